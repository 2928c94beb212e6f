"""flask backup create / restore: an instance restored into an empty INSTANCE_DIR works the same.

The source instance is deleted before the restored one starts, so nothing can be read from it.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from app import create_app
from config import TestConfig as InstanceConfig
from tests.functional.test_account_erasure import ROW, train
from tests.functional.test_datasets_api import upload
from tests.functional.test_training_api import PENGUINS

ROWS = [ROW, {**ROW, "island": "Dream", "bill_length_mm": 39.5, "flipper_length_mm": 190, "body_mass_g": 3600,
              "sex": "female"}]


def close(app) -> None:
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def source_app(mlflow_template, tmp_path):
    """A migrated SQLite instance (also when the suite runs on PostgreSQL) with its own MLflow store."""
    from flask_migrate import upgrade

    from app.backup import rewrite_store_paths

    path = tmp_path / "source"
    with create_app(InstanceConfig(path)).app_context():
        upgrade()
        from app.extensions import db

        db.engine.dispose()
    (path / "mlflow").mkdir()
    shutil.copy2(mlflow_template / "mlflow.db", path / "mlflow" / "mlflow.db")
    rewrite_store_paths(path / "mlflow" / "mlflow.db", (mlflow_template / "artifacts").resolve().as_uri(),
                        path / "mlflow" / "artifacts")
    app = create_app(InstanceConfig(path))
    yield app
    close(app)


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def test_backup_restores_into_an_empty_instance(source_app, tmp_path):
    from app.blueprints.auth import operations as ops
    from app.extensions import db

    app = source_app
    client = app.test_client()
    with app.app_context():
        admin = ops.register_user("root@example.com", "correct horse battery")
        user = ops.register_user("ada@example.com", "correct horse battery")
        _, secret = ops.create_token(user, "t")
        db.session.commit()
        assert admin.is_admin
    headers = {"Authorization": f"Bearer {secret}"}
    dataset = upload(client, headers, PENGUINS, "penguins.csv").json
    model_id = train(app, dataset["id"])
    before = client.post(f"/api/v1/models/{model_id}/predict", headers=headers, json={"rows": ROWS}).json
    assert len(before["prediction_ids"]) == 2
    rows_before = client.get(f"/api/v1/datasets/{dataset['id']}/rows", headers=headers).json

    archive = tmp_path / "backups" / "instance.tar.gz"
    started = time.perf_counter()
    result = cli(app, "backup", "create", str(archive))
    backup_s = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "manifest.json" in names and "database/app.sqlite3" in names and "mlflow/mlflow.db" in names
    assert any(n.startswith("data/datasets/") for n in names)
    assert any(n.startswith("mlflow/artifacts/") and n.endswith(".skops") for n in names)
    assert not any(n.startswith("/") or ".." in n for n in names)
    source_dir = Path(app.config["INSTANCE_DIR"])
    close(app)
    shutil.rmtree(source_dir)  # nothing of the source instance is left to read

    target_dir = tmp_path / "restored"
    empty = create_app(InstanceConfig(target_dir))  # a brand-new installation: no tables yet
    started = time.perf_counter()
    result = cli(empty, "backup", "restore", str(archive))
    restore_s = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    again = cli(empty, "backup", "restore", str(archive))
    assert again.exit_code != 0 and "not empty" in again.output  # a second restore needs --force
    forced = cli(empty, "backup", "restore", "--force", str(archive))
    assert forced.exit_code == 0, forced.output
    close(empty)
    print(f"\nbackup {backup_s:.2f} s, restore {restore_s:.2f} s, archive {archive.stat().st_size} bytes")

    restored = create_app(InstanceConfig(target_dir))
    try:
        client = restored.test_client()
        datasets = client.get("/api/v1/datasets", headers=headers)
        assert datasets.status_code == 200 and [d["id"] for d in datasets.json] == [dataset["id"]]
        assert client.get(f"/api/v1/datasets/{dataset['id']}/rows", headers=headers).json == rows_before
        after = client.post(f"/api/v1/models/{model_id}/predict", headers=headers, json={"rows": ROWS})
        assert after.status_code == 200, after.json
        assert after.json["predictions"] == before["predictions"]
        assert after.json["probabilities"] == before["probabilities"]
        from app.models import PredictionLog

        with restored.app_context():
            uids = {p.uid for p in db.session.query(PredictionLog)}
        assert set(before["prediction_ids"]) <= uids
        store = restored.config["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///")
        with sqlite3.connect(store) as conn:
            locations = [r[0] for r in conn.execute("SELECT artifact_uri FROM runs UNION ALL "
                                                    "SELECT artifact_location FROM logged_models")]
        assert locations and all(str(target_dir) in loc for loc in locations)
        assert not any(str(source_dir) in loc for loc in locations)
    finally:
        close(restored)


def _archive(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            data = b"x" if info.isfile() else None
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


@pytest.mark.parametrize("member", ["../escape.txt", "/etc/evil", "data/../../escape.txt", "elsewhere/file"])
def test_restore_refuses_paths_outside_the_instance(tmp_path, member):
    from app.backup import BackupError, read_manifest

    archive = _archive(tmp_path / "bad.tar.gz", [tarfile.TarInfo(member)])
    with pytest.raises(BackupError, match="unexpected path"):
        read_manifest(archive)


def test_restore_refuses_links_and_foreign_archives(tmp_path):
    from app.backup import BackupError, read_manifest

    link = tarfile.TarInfo("data/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(BackupError, match="link"):
        read_manifest(_archive(tmp_path / "link.tar.gz", [link]))
    with pytest.raises(BackupError, match="manifest"):
        read_manifest(_archive(tmp_path / "plain.tar.gz", [tarfile.TarInfo("data/file.csv")]))
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(BackupError, match="readable"):
        read_manifest(tmp_path / "junk.tar.gz")


POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")


@pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set")
def test_postgresql_backup_restores_into_another_database(tmp_path):
    """pg_dump --format=custom into the archive, pg_restore --clean into an empty database."""
    import psycopg
    from flask_migrate import upgrade

    from app.blueprints.auth import operations as ops
    from app.extensions import db
    from app.models import User
    from config import normalise_database_url

    names = [f"csva_backup_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    base = POSTGRES_URL.rsplit("/", 1)[0]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        apps = []
        for name, folder in zip(names, ("pg-source", "pg-target"), strict=True):
            config = InstanceConfig(tmp_path / folder)
            config.SQLALCHEMY_DATABASE_URI = normalise_database_url(f"{base}/{name}")
            apps.append(create_app(config))
        source, target = apps
        with source.app_context():
            upgrade()
            ops.register_user("root@example.com", "correct horse battery")
            db.session.commit()
        archive = tmp_path / "pg.tar.gz"
        result = cli(source, "backup", "create", str(archive))
        assert result.exit_code == 0, result.output
        with tarfile.open(archive) as tar:
            assert "database/app.pgdump" in tar.getnames()
        result = cli(target, "backup", "restore", str(archive))
        assert result.exit_code == 0, result.output
        with target.app_context():
            assert [u.email for u in db.session.query(User)] == ["root@example.com"]
        for app in apps:
            close(app)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
