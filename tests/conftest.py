"""Shared fixtures: an app per test on a copy of a migrated template database."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

import pytest

from app import create_app
from config import TestConfig
from tests.live_server import live_instance, live_server  # noqa: F401 (fixtures for browser and integration tests)

PASSWORD = "correct horse battery"


# TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) runs the database tests on
# PostgreSQL: a database is created for the session and emptied after each test.
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def postgres_url():
    if not POSTGRES_ADMIN_URL:
        yield None
        return
    import psycopg

    name = f"csva_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def config_for(path: Path, postgres_url: str | None) -> TestConfig:
    config = TestConfig(path)
    if postgres_url:
        from config import normalise_database_url

        config.SQLALCHEMY_DATABASE_URI = normalise_database_url(postgres_url)
    return config


@pytest.fixture(scope="session")
def template_instance(tmp_path_factory, postgres_url) -> Path:
    """An instance folder migrated once per test session; each test gets a copy."""
    from flask_migrate import upgrade

    path = tmp_path_factory.mktemp("template-instance")
    app = create_app(config_for(path, postgres_url))
    with app.app_context():
        upgrade()
        from app.extensions import db

        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """An MLflow store created once per session (a fresh one takes seconds); tests copy it."""
    from app.ml.tracking import MlflowTracker

    path = tmp_path_factory.mktemp("mlflow-template")
    MlflowTracker(f"sqlite:///{path / 'mlflow.db'}", path / "artifacts")
    return path


@pytest.fixture
def tracking(instance_dir, mlflow_template) -> Path:
    """This test's instance gets its own copy of the MLflow store."""
    target = instance_dir / "mlflow"
    target.mkdir(exist_ok=True)
    shutil.copy2(mlflow_template / "mlflow.db", target / "mlflow.db")
    return target


@pytest.fixture
def instance_dir(template_instance, tmp_path) -> Path:
    path = tmp_path / "instance"
    shutil.copytree(template_instance, path)
    return path


@pytest.fixture
def make_config(instance_dir, postgres_url, _empty_postgres):
    def factory(**overrides) -> TestConfig:
        config = config_for(instance_dir, postgres_url)
        for key, value in overrides.items():
            setattr(config, key, value)
        return config
    return factory


def empty_postgres(postgres_url: str | None) -> None:
    """Every table of the test database emptied (but Alembic's), ids restarted; nothing on SQLite."""
    if postgres_url:
        import psycopg

        with psycopg.connect(postgres_url, autocommit=True) as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
            if tables:
                conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")


@pytest.fixture
def _empty_postgres(postgres_url):
    """On PostgreSQL every test starts from empty tables (SQLite gets a fresh file copy)."""
    yield
    empty_postgres(postgres_url)


@pytest.fixture
def app(make_config):
    app = create_app(make_config())
    yield app
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def train_in_process(app, dataset_id: int, *, target: str = "species", family: str = "logistic_regression",
                     seed: int = 0, registered: bool = False) -> tuple[int, int]:
    """One candidate of `family` trained in-process by the real engine and job code; (job id, best model id).

    The job row ends succeeded with the job's answer. `registered` adds what a real training job
    also gives its MLflow run: the owner/dataset/job tags and a registered model version.
    """
    from app.blueprints.training import job as training_job
    from app.blueprints.training import service
    from app.blueprints.training.tracking import make_tracker
    from app.extensions import db
    from app.ml.tracking import registered_model_name
    from app.ml.training import run_search
    from app.models import Dataset, Job

    with app.app_context():
        dataset = db.session.get(Dataset, dataset_id)
        request = {"dataset_id": dataset_id, "version": 1, "target": target, "time_budget_s": 30,
                   "models": [family], "max_candidates": 1, "seed": seed}
        job = Job(user_id=dataset.user_id, kind="training", status="running", request=request,
                  request_key=f"in-process-{dataset_id}-{target}-{family}-{seed}")
        db.session.add(job)
        db.session.commit()
        frame, kinds, version = service.load_frame(dataset, 1)
        extra = {}
        if registered:
            extra = {"tags": {"user": job.user_id, "dataset": dataset_id, "version": version, "job": job.id},
                     "registered_name": registered_model_name(dataset_id, target)}
        result = run_search(frame, kinds, service.search_request(request, **extra), on_progress=lambda p: None,
                            should_stop=lambda: False, tracker=make_tracker())
        background = training_job.background_rows(frame, [f["name"] for f in result.features], 0)
        answer = training_job._keep(job, dataset, version, result, background)
        job = db.session.get(Job, job.id)
        job.status, job.result = "succeeded", json.loads(json.dumps(answer, default=str))
        db.session.commit()
        return job.id, answer["best_model_id"]


@pytest.fixture
def make_user(app):
    """Create a user directly through the service layer; returns (id, email)."""
    from app.blueprints.auth import operations as ops
    from app.extensions import db

    def factory(email: str = "ada@example.com", password: str = PASSWORD, admin: bool | None = None):
        with app.app_context():
            user = ops.register_user(email, password, is_admin=admin)
            db.session.commit()
            return user.id, user.email
    return factory


@pytest.fixture
def make_token(app):
    from app.blueprints.auth import operations as ops
    from app.extensions import db
    from app.models import User

    def factory(user_id: int, name: str = "tests", expires_in_days: int | None = None) -> str:
        with app.app_context():
            _, secret = ops.create_token(db.session.get(User, user_id), name, expires_in_days)
            db.session.commit()
            return secret
    return factory


@pytest.fixture
def api_headers(make_user, make_token):
    """Bearer headers of a fresh user ('ada@example.com')."""
    user_id, _ = make_user()
    return {"Authorization": f"Bearer {make_token(user_id)}"}


@pytest.fixture
def login(client):
    """Log the test client in through the real form."""
    def do_login(email: str = "ada@example.com", password: str = PASSWORD, remember: bool = False):
        page = client.get("/auth/login")
        data = {"email": email, "password": password, "csrf_token": csrf_token_from(page.text)}
        if remember:
            data["remember"] = "y"
        return client.post("/auth/login", data=data)
    return do_login
