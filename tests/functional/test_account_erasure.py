"""Deleting an account leaves nothing of it: no rows, no files, no MLflow runs, models or artifacts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, train_in_process
from tests.functional.test_datasets_api import upload
from tests.functional.test_training_api import PENGUINS

ROW = {"island": "Biscoe", "bill_length_mm": 48.0, "bill_depth_mm": 15.0, "flipper_length_mm": 220,
       "body_mass_g": 5200, "sex": "male", "year": 2008}


@pytest.fixture
def own_tracking(app, tracking, mlflow_template):
    """The copied MLflow store keeps its artifacts under this instance, as a real one does."""
    from app.backup import rewrite_store_paths

    rewrite_store_paths(tracking / "mlflow.db", (mlflow_template / "artifacts").resolve().as_uri(),
                        Path(app.config["MLFLOW_ARTIFACT_ROOT"]))
    return tracking


def train(app, dataset_id: int) -> int:
    """A small model trained as the training job does (tags, registry name), in-process."""
    return train_in_process(app, dataset_id, registered=True)[1]


def user_with_model(app, client, make_user, make_token, email):
    user_id, _ = make_user(email)
    headers = {"Authorization": f"Bearer {make_token(user_id)}"}
    dataset_id = upload(client, headers, PENGUINS, "penguins.csv").json["id"]
    model_id = train(app, dataset_id)
    r = client.post(f"/api/v1/models/{model_id}/predict", headers=headers, json={"rows": [ROW, ROW]})
    assert r.status_code == 200, r.json
    return user_id, headers, dataset_id, model_id


def mlflow_rows(app, query: str) -> list:
    db_path = app.config["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///")
    with sqlite3.connect(db_path) as conn:
        return conn.execute(query).fetchall()


def artifact_dirs(app, run_ids, model_ids) -> list[Path]:
    root = Path(app.config["MLFLOW_ARTIFACT_ROOT"])
    return [p for p in root.rglob("*") if p.is_dir() and (p.name in run_ids or p.name in model_ids)]


def test_deleting_an_account_leaves_nothing_of_it(app, client, make_user, make_token, own_tracking):
    from app.extensions import db
    from app.models import Dataset, TrainedModel

    ada_id, ada, ada_dataset, _ = user_with_model(app, client, make_user, make_token, "ada@example.com")
    bob_id, bob, bob_dataset, bob_model = user_with_model(app, client, make_user, make_token, "bob@example.com")
    with app.app_context():
        ada_files = [p for p in (app.config["DATA_DIR"]).rglob("*") if p.is_file()
                     and db.session.get(Dataset, ada_dataset).source_path.split("/")[1] in str(p)]
    ada_runs = {r[0] for r in mlflow_rows(app, f"SELECT run_uuid FROM tags WHERE key = 'user' AND value = '{ada_id}'")}
    ada_logged = {r[0] for r in mlflow_rows(app, "SELECT model_id FROM logged_models WHERE source_run_id IN ("
                                            + ",".join(f"'{r}'" for r in ada_runs) + ")")}
    assert ada_files and ada_runs and ada_logged
    assert artifact_dirs(app, ada_runs, ada_logged)
    assert mlflow_rows(app, f"SELECT name FROM registered_models WHERE name LIKE 'dataset-{ada_dataset}-%'")

    from app.blueprints.admin.usage import data_bytes, model_bytes

    with app.app_context():  # the admin page counts ada's model artifacts in her storage use
        assert model_bytes([ada_id])[ada_id] > 0 and data_bytes([ada_id])[ada_id] >= len(PENGUINS)

    assert client.delete("/api/v1/auth/me", headers=ada, json={"password": PASSWORD}).status_code == 204

    with app.app_context():  # no row of any table names ada
        for table in db.metadata.sorted_tables:
            column = "id" if table.name == "users" else "user_id"
            if column in table.c:
                left = db.session.execute(select(table).where(table.c[column] == ada_id)).all()
                assert left == [], table.name
        assert db.session.scalar(select(TrainedModel.id).where(TrainedModel.id == bob_model)) == bob_model
    assert not [p for p in ada_files if p.exists()]
    run_list = ",".join(f"'{r}'" for r in ada_runs)
    for table, column in (("runs", "run_uuid"), ("tags", "run_uuid"), ("params", "run_uuid"),
                          ("metrics", "run_uuid"), ("model_versions", "run_id")):
        assert mlflow_rows(app, f"SELECT * FROM {table} WHERE {column} IN ({run_list})") == [], table
    assert mlflow_rows(app, "SELECT * FROM logged_models WHERE model_id IN ("
                       + ",".join(f"'{m}'" for m in ada_logged) + ")") == []
    assert mlflow_rows(app, f"SELECT * FROM registered_models WHERE name LIKE 'dataset-{ada_dataset}-%'") == []
    assert mlflow_rows(app, "SELECT * FROM model_versions WHERE source LIKE '%REDACTED%'") == []
    assert artifact_dirs(app, ada_runs, ada_logged) == []

    # Bob keeps everything: his model still predicts, his runs and registry entry are there.
    assert mlflow_rows(app, f"SELECT * FROM tags WHERE key = 'user' AND value = '{bob_id}'")
    assert mlflow_rows(app, f"SELECT name FROM registered_models WHERE name LIKE 'dataset-{bob_dataset}-%'")
    with app.app_context():
        app.extensions["model_cache"].evict(bob_model)
    r = client.post(f"/api/v1/models/{bob_model}/predict", headers=bob, json={"rows": [ROW]})
    assert r.status_code == 200, r.json


def add_prediction_sample(app, user_id: int, age_days: int) -> None:
    """A stored prediction sample `age_days` old, of a model row of a dataset row of the user's."""
    from datetime import timedelta

    from app.extensions import db
    from app.models import Dataset, PredictionLog, TrainedModel
    from app.models.user import utcnow

    with app.app_context():
        dataset = Dataset(user_id=user_id, name="d", source_path="datasets/x/source.upload")
        db.session.add(dataset)
        db.session.flush()
        model = TrainedModel(user_id=user_id, dataset_id=dataset.id, version=1, family="f", algorithm="a",
                             task="regression", target="t", metric="r2")
        db.session.add(model)
        db.session.flush()
        db.session.add(PredictionLog(uid=f"sample-{age_days}", model_id=model.id, user_id=user_id,
                                     created_at=utcnow() - timedelta(days=age_days)))
        db.session.commit()


@pytest.mark.parametrize("age_days, kept", [(40, False), (5, True)])
def test_prediction_samples_are_purged_after_the_retention(app, make_user, age_days, kept):
    from app.blueprints.admin.retention import purge
    from app.extensions import db
    from app.models import PredictionLog

    add_prediction_sample(app, make_user()[0], age_days)
    assert app.config["PREDICTION_RETENTION_DAYS"] == 30
    result = app.test_cli_runner().invoke(args=["purge"])  # what a daily cron job runs
    assert result.exit_code == 0 and f"Removed {0 if kept else 1} prediction sample" in result.output
    assert purge(app) == 0  # the server's start-up and daily purge: nothing more to remove
    with app.app_context():
        assert (db.session.scalar(select(PredictionLog.id)) is not None) == kept


def test_a_starting_server_purges_old_prediction_samples(app, make_config, make_user):
    from app import create_app
    from app.extensions import db
    from app.models import PredictionLog

    add_prediction_sample(app, make_user()[0], 31)
    restarted = create_app(make_config())
    with restarted.app_context():
        assert db.session.scalar(select(PredictionLog.id)) is None
        db.session.remove()
        db.engine.dispose()
