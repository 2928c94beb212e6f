"""A deleted model's series (predictions, latency, held-out score, drift) leave /metrics at once.

In one process the label sets are removed (prometheus_client's remove). Under gunicorn
(PROMETHEUS_MULTIPROC_DIR) prometheus_client cannot remove a label set: the values stay in the
workers' files, so /metrics leaves out the series of every model that no longer exists; the
second test runs the app that way, file-backed values included, through the test client.
"""

from __future__ import annotations

from prometheus_client import values

from app import create_app
from tests.conftest import train_in_process
from tests.functional.test_datasets_api import upload
from tests.functional.test_predictions_api import ROW
from tests.functional.test_training_api import PENGUINS


def model_series(client, model_id: int) -> list[str]:
    return [line for line in client.get("/metrics").text.splitlines()
            if not line.startswith("#") and f'model_id="{model_id}"' in line]


def copy_of(app, model_id: int) -> int:
    """A second model row of the same trained model (a delete removes only the row): one training less."""
    from app.extensions import db
    from app.models import TrainedModel

    with app.app_context():
        model = db.session.get(TrainedModel, model_id)
        columns = {c.key: getattr(model, c.key) for c in TrainedModel.__table__.columns if c.key != "id"}
        copy = TrainedModel(**{**columns, "is_champion": False, "registered_name": None, "registered_version": None})
        db.session.add(copy)
        db.session.commit()
        return copy.id


def predict_then_delete(app, headers) -> tuple[list[str], list[str], list[str], int]:
    """(series of the kept model, of the deleted one before and after its deletion, its id)."""
    client = app.test_client()
    dataset_id = upload(client, headers, PENGUINS, "penguins.csv").json["id"]
    _, kept = train_in_process(app, dataset_id)
    deleted = copy_of(app, kept)
    for model_id in (kept, deleted):
        r = client.post(f"/api/v1/models/{model_id}/predict", headers=headers, json={"rows": [ROW, ROW]})
        assert r.status_code == 200, r.json
    before = model_series(client, deleted)
    assert client.delete(f"/api/v1/models/{deleted}", headers=headers).status_code == 204
    return model_series(client, kept), before, model_series(client, deleted), deleted


def test_a_deleted_models_series_leave_metrics(app, api_headers, tracking):
    kept, before, after, deleted = predict_then_delete(app, api_headers)
    names = {line.split("{")[0] for line in before}
    assert {"csv_analyzer_predictions_total", "csv_analyzer_prediction_latency_seconds_count",
            "csv_analyzer_model_score"} <= names
    assert after == []
    assert {line.split("{")[0] for line in kept} == names  # the other model's series stay
    labelled = app.extensions["app_metrics"].predictions
    assert (str(deleted),) not in labelled._metrics  # the label set itself is gone, not just hidden


def test_under_gunicorns_multiprocess_metrics_too(make_config, tracking, tmp_path, monkeypatch):
    """File-backed values as gunicorn workers keep them: the series would outlive the model there."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue())
    app = create_app(make_config())
    try:
        from app.blueprints.auth import operations as ops
        from app.extensions import db
        from app.models import User

        with app.app_context():
            user = ops.register_user("multi@example.com", "correct horse battery")
            db.session.commit()
            _, secret = ops.create_token(db.session.get(User, user.id), "t", None)
            db.session.commit()
        kept, before, after, _ = predict_then_delete(app, {"Authorization": f"Bearer {secret}"})
        assert any(f.name.startswith("counter_") for f in folder.iterdir()), "values were file-backed"
        assert {"csv_analyzer_predictions_total", "csv_analyzer_model_score"} <= {
            line.split("{")[0] for line in before}
        assert after == []
        assert any(line.startswith("csv_analyzer_predictions_total{") for line in kept)
    finally:
        from app.extensions import db

        with app.app_context():
            db.session.remove()
            db.engine.dispose()
