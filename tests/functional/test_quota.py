"""USER_QUOTA_MB: an upload that would take a user over their quota is 413 and stores nothing."""

from __future__ import annotations

import io

import pytest

from app import create_app
from tests.conftest import csrf_token_from
from tests.functional.test_datasets_api import upload

ROW = b"1234567890,abcdefghij,0.5\n"


def big_csv(n_bytes: int) -> bytes:
    return b"a,b,c\n" + ROW * (n_bytes // len(ROW))


@pytest.fixture
def quota_app(make_config):
    app = create_app(make_config(USER_QUOTA_MB=1))
    yield app
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def stored(app):
    return sorted(str(p.relative_to(app.config["DATA_DIR"])) for p in app.config["DATA_DIR"].rglob("*")
                  if p.is_file())


def test_api_upload_over_the_quota_is_413_and_stores_nothing(quota_app):
    from app.blueprints.auth import operations as ops
    from app.extensions import db

    client = quota_app.test_client()
    with quota_app.app_context():
        user = ops.register_user("ada@example.com", "correct horse battery")
        _, secret = ops.create_token(user, "t")
        db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    first = upload(quota_app.test_client(), headers, big_csv(400_000), "first.csv")
    assert first.status_code == 201, first.json
    before = stored(quota_app)
    r = upload(client, headers, big_csv(700_000), "second.csv")
    assert r.status_code == 413
    assert "quota of 1 MB" in r.json["message"]
    assert stored(quota_app) == before  # no dataset folder, no temporary upload left
    assert len(client.get("/api/v1/datasets", headers=headers).json) == 1
    small = upload(client, headers, big_csv(10_000), "small.csv")
    assert small.status_code == 201  # room left for a small one


def test_browser_upload_over_the_quota_is_413_naming_it(quota_app):
    from app.blueprints.auth import operations as ops
    from app.extensions import db

    with quota_app.app_context():
        ops.register_user("ada@example.com", "correct horse battery")
        db.session.commit()
    client = quota_app.test_client()
    page = client.get("/auth/login")
    client.post("/auth/login", data={"email": "ada@example.com", "password": "correct horse battery",
                                     "csrf_token": csrf_token_from(page.text)})
    token = csrf_token_from(client.get("/").text)
    r = client.post("/datasets/upload", content_type="multipart/form-data",
                    data={"csrf_token": token, "file": (io.BytesIO(big_csv(1_200_000)), "big.csv")})
    assert r.status_code == 413
    assert "quota of 1 MB" in r.text
    r = client.post("/datasets/upload", content_type="multipart/form-data", headers={"HX-Request": "true"},
                    data={"csrf_token": token, "file": (io.BytesIO(big_csv(1_200_000)), "big.csv")})
    assert r.status_code == 413 and "quota of 1 MB" in r.text and "<html" not in r.text  # shown in the card
    assert stored(quota_app) == []


def test_no_quota_by_default(app, client, api_headers):
    assert app.config["USER_QUOTA_MB"] == 0
    assert upload(client, api_headers, big_csv(1_200_000), "big.csv").status_code == 201
