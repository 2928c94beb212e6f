"""A shared world for the security tests: one app per module with two users and the owner's objects.

The objects (a dataset, a trained model, its job, a prediction, an API token) are made once for the
whole security run (a training run is the slow part); tests that change or delete an object make a
fresh one of their own (`fresh_*` below), so the shared ones stay as they were.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from tests.conftest import PASSWORD, config_for, csrf_token_from, empty_postgres, train_in_process
from tests.functional.test_predictions_api import ROW
from tests.functional.test_training_api import PENGUINS
from tests.security.figures import COUNTS, count  # noqa: F401 (count is re-exported to the tests)

OWNER_EMAIL = "owner-zq7@example.com"
OTHER_EMAIL = "other-k3p@example.com"
ADMIN_EMAIL = "admin-w2x@example.com"
# Names only the owner's objects carry: no page or API answer to another user may contain them.
SECRET_DATASET_NAME = "ownersecret-penguins-zq7"
SECRET_TOKEN_NAME = "ownersecret-token-zq7"
SECRETS = (SECRET_DATASET_NAME, SECRET_TOKEN_NAME, OWNER_EMAIL)
CSV_SMALL = b"a,b\n1,2\n3,4\n5,6\n"


class Browser:
    """A test client logged in through the real form, that knows its CSRF token."""

    def __init__(self, client: FlaskClient, csrf: str):
        self.client = client
        self.csrf = csrf

    def request(self, method: str, url: str, *, htmx: bool = False, data: dict | None = None, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if htmx:
            headers["HX-Request"] = "true"
        if method != "GET":
            data = {"csrf_token": self.csrf, **(data or {})}
            headers.setdefault("X-CSRFToken", self.csrf)
        return self.client.open(url, method=method, data=data, headers=headers, **kwargs)


@dataclass
class World:
    app: Flask
    owner_id: int
    other_id: int
    owner_token: str
    other_token: str
    owner_token_id: int
    dataset_id: int
    model_id: int
    job_id: int
    prediction_id: str
    batch_job_id: int
    owner: Browser
    other: Browser
    anonymous: Browser
    extra: dict = field(default_factory=dict)

    def api(self, who: str) -> dict:
        token = {"owner": self.owner_token, "other": self.other_token}.get(who)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def browser(self, who: str) -> Browser:
        if who == "admin" and "admin" not in self.extra:
            from app.blueprints.auth import operations as ops
            from app.extensions import db

            with self.app.app_context():
                ops.register_user(ADMIN_EMAIL, PASSWORD, is_admin=True)
                db.session.commit()
            self.extra["admin"] = browser_for(self.app, ADMIN_EMAIL)
        if who == "admin":
            return self.extra["admin"]
        return {"owner": self.owner, "other": self.other, "anonymous": self.anonymous}[who]

    def stored_files(self) -> list[str]:
        data = Path(self.app.config["DATA_DIR"])
        return sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file())

    def count(self, model) -> int:
        from app.extensions import db

        with self.app.app_context():
            return db.session.query(model).count()


def upload(client, headers, content: bytes, filename: str, **form):
    data = {"file": (io.BytesIO(content), filename), **form}
    return client.post("/api/v1/datasets", headers=headers, data=data, content_type="multipart/form-data")


def browser_for(app: Flask, email: str | None) -> Browser:
    client = app.test_client()
    page = client.get("/auth/login")
    csrf = csrf_token_from(page.text)
    if email:
        r = client.post("/auth/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf})
        assert r.status_code in (302, 303), r.text[:500]
        csrf = csrf_token_from(client.get("/account").text)
    return Browser(client, csrf)


def build_app(instance: Path, postgres_url, **overrides) -> Flask:
    config = config_for(instance, postgres_url)
    for key, value in overrides.items():
        setattr(config, key, value)
    return create_app(config)


def copy_instance(template_instance: Path, mlflow_template: Path, target: Path) -> Path:
    shutil.copytree(template_instance, target)
    (target / "mlflow").mkdir(exist_ok=True)
    shutil.copy2(mlflow_template / "mlflow.db", target / "mlflow" / "mlflow.db")
    return target


@pytest.fixture(scope="session")
def world(template_instance, mlflow_template, postgres_url, tmp_path_factory) -> World:
    """Two users; the owner has a dataset, a trained model, its job, a prediction and a token."""
    from app.blueprints.auth import operations as ops
    from app.extensions import db
    from app.models import ApiToken, User

    instance = copy_instance(template_instance, mlflow_template, tmp_path_factory.mktemp("security") / "instance")
    app = build_app(instance, postgres_url)
    with app.app_context():
        owner = ops.register_user(OWNER_EMAIL, PASSWORD)
        other = ops.register_user(OTHER_EMAIL, PASSWORD)
        db.session.commit()
        owner_id, other_id = owner.id, other.id
        _, owner_token = ops.create_token(db.session.get(User, owner_id), SECRET_TOKEN_NAME, None)
        _, other_token = ops.create_token(db.session.get(User, other_id), "other", None)
        db.session.commit()
        owner_token_id = db.session.query(ApiToken).filter_by(user_id=owner_id).one().id
    client = app.test_client()
    headers = {"Authorization": f"Bearer {owner_token}"}
    r = upload(client, headers, PENGUINS, "penguins.csv", name=SECRET_DATASET_NAME)
    assert r.status_code == 201, r.json
    dataset_id = r.json["id"]
    job_id, model_id = train_in_process(app, dataset_id)
    r = client.post(f"/api/v1/models/{model_id}/predict", headers=headers, json={"rows": [ROW]})
    assert r.status_code == 200, r.json
    with app.app_context():
        from app.models import Job

        # a batch-scoring job that failed: its pages answer the owner without starting any work
        batch_job = Job(user_id=owner_id, kind="batch_scoring", status="failed", error="stopped by the tests",
                        request={"model_id": model_id, "n_rows": 3, "source": "file"}, request_key="security-batch")
        db.session.add(batch_job)
        db.session.commit()
        batch_job_id = batch_job.id
    w = World(app=app, batch_job_id=batch_job_id, owner_id=owner_id, other_id=other_id, owner_token=owner_token, other_token=other_token,
              owner_token_id=owner_token_id, dataset_id=dataset_id, model_id=model_id, job_id=job_id,
              prediction_id=r.json["prediction_ids"][0], owner=browser_for(app, OWNER_EMAIL),
              other=browser_for(app, OTHER_EMAIL), anonymous=browser_for(app, None))
    yield w
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    empty_postgres(postgres_url)


def fresh_dataset(w: World, who: str = "owner", content: bytes = b"a,b\n1,2\n3,4\n", name: str = "fresh") -> int:
    r = upload(w.app.test_client(), w.api(who), content, "fresh.csv", name=name)
    assert r.status_code == 201, r.json
    return r.json["id"]


def fresh_token(w: World) -> int:
    from app.blueprints.auth import operations as ops
    from app.extensions import db
    from app.models import User

    with w.app.app_context():
        row, _ = ops.create_token(db.session.get(User, w.owner_id), "fresh", None)
        db.session.commit()
        return row.id


def fresh_user(w: World) -> int:
    from app.blueprints.auth import operations as ops
    from app.extensions import db

    with w.app.app_context():
        user = ops.register_user(f"fresh-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
        db.session.commit()
        return user.id


def fresh_model(w: World) -> int:
    """A copy of the owner's model row (deleting a model only removes its row)."""
    from app.extensions import db
    from app.models import TrainedModel

    with w.app.app_context():
        model = db.session.get(TrainedModel, w.model_id)
        columns = {c.key: getattr(model, c.key) for c in TrainedModel.__table__.columns if c.key != "id"}
        copy = TrainedModel(**{**columns, "is_champion": False, "registered_name": None,
                               "registered_version": None})
        db.session.add(copy)
        db.session.commit()
        return copy.id


# --- the figures the closing note asks for -----------------------------------------

def pytest_terminal_summary(terminalreporter):
    """Print the figures; SECURITY_FIGURES=<file> also writes them there as JSON."""
    if COUNTS:
        terminalreporter.section("security figures")
        for name, n in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{name}: {n}")
        target = os.environ.get("SECURITY_FIGURES")
        if target:
            Path(target).write_text(json.dumps(COUNTS, indent=2, sort_keys=True) + "\n")
