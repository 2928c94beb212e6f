"""The auth endpoints of API.md, through the Flask test client."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

ERROR_KEYS = {"code", "status", "message", "errors"}


def register(client, email="ada@example.com", password=PASSWORD):
    return client.post("/api/v1/auth/register", json={"email": email, "password": password})


def new_token(client, email="ada@example.com", password=PASSWORD, **extra):
    return client.post("/api/v1/auth/tokens", json={"email": email, "password": password, "name": "ci", **extra})


def test_register_token_me_round_trip(client):
    r = register(client)
    assert r.status_code == 201
    assert set(r.json) == {"id", "email", "is_admin", "created_at"}
    assert r.json["is_admin"] is True  # the first user is the admin
    assert register(client, "bob@example.com").json["is_admin"] is False

    r = new_token(client, expires_in_days=7)
    assert r.status_code == 201
    assert set(r.json) >= {"id", "name", "token", "prefix", "created_at", "expires_at"}
    token = r.json["token"]
    assert token.startswith(r.json["prefix"])

    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json["email"] == "ada@example.com"


def test_email_is_case_insensitive_and_duplicate_is_409(client):
    assert register(client, "Ada@Example.com").status_code == 201
    r = register(client, "ada@example.com")
    assert r.status_code == 409
    assert set(r.json) == ERROR_KEYS and r.json["code"] == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "ada@example.com", "password": "short"}, "password"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"password": PASSWORD}, "email"),
        ({"email": "ada@example.com"}, "password"),
        ({"email": 5, "password": PASSWORD}, "email"),
    ],
)
def test_register_rejects_bad_input_with_422(client, body, field):
    r = client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 422
    assert set(r.json) == ERROR_KEYS
    assert field in r.json["errors"]["json"]


def test_malformed_json_is_a_4xx_in_the_error_shape(client):
    r = client.post("/api/v1/auth/register", data="{not json", content_type="application/json")
    assert 400 <= r.status_code < 500
    assert set(r.json) == ERROR_KEYS


def test_closed_registration_is_403(make_config):
    from app import create_app

    app = create_app(make_config(REGISTRATION_OPEN=False))
    r = register(app.test_client())
    assert r.status_code == 403
    assert r.json["code"] == 403


def test_wrong_credentials_are_401(client):
    register(client)
    assert new_token(client, password="wrong password!").status_code == 401
    assert new_token(client, email="nobody@example.com").status_code == 401


def test_token_list_hides_secrets_and_revocation_works(client):
    register(client)
    first = new_token(client).json
    second = new_token(client).json
    headers = {"Authorization": f"Bearer {first['token']}"}
    listing = client.get("/api/v1/auth/tokens", headers=headers)
    assert listing.status_code == 200
    assert [t["id"] for t in listing.json] == [second["id"], first["id"]]  # newest first
    assert all("token" not in t for t in listing.json)

    assert client.delete(f"/api/v1/auth/tokens/{second['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second['token']}"}).status_code == 401
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200


def test_another_users_token_is_404(client):
    register(client)
    register(client, "bob@example.com")
    ada = new_token(client).json
    bob = new_token(client, "bob@example.com").json
    r = client.delete(f"/api/v1/auth/tokens/{ada['id']}", headers={"Authorization": f"Bearer {bob['token']}"})
    assert r.status_code == 404
    missing = client.delete("/api/v1/auth/tokens/9999", headers={"Authorization": f"Bearer {bob['token']}"})
    assert missing.status_code == 404 and missing.json == r.json


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer nonsense", "Basic YWRhOnB3", "Bearer csva_" + "x" * 43, "bearer"],
)
def test_anonymous_or_bad_token_is_401_before_validation(client, header):
    headers = {"Authorization": header} if header else {}
    r = client.delete("/api/v1/auth/me", headers=headers, json={"wrong": "body"})
    assert r.status_code == 401
    assert set(r.json) == ERROR_KEYS
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_401(app, client, make_user, make_token):
    from datetime import timedelta

    from app.extensions import db
    from app.models import ApiToken

    user_id, _ = make_user()
    secret = make_token(user_id, expires_in_days=1)
    with app.app_context():
        token = db.session.query(ApiToken).one()
        token.expires_at = token.created_at - timedelta(seconds=1)
        db.session.commit()
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_token_in_query_string_is_ignored(client, make_user, make_token):
    secret = make_token(make_user()[0])
    assert client.get(f"/api/v1/auth/me?access_token={secret}").status_code == 401
    assert client.get(f"/api/v1/auth/me?token={secret}").status_code == 401


def test_api_ignores_the_session_cookie(client, login, make_user):
    make_user()
    assert login().status_code == 302
    assert client.get("/").status_code == 200  # the browser session works
    assert client.get("/api/v1/auth/me").status_code == 401  # the API does not read it


def test_delete_account_erases_user_and_tokens(app, client, api_headers):
    r = client.delete("/api/v1/auth/me", headers=api_headers, json={"password": "wrong password"})
    assert r.status_code == 422
    assert client.get("/api/v1/auth/me", headers=api_headers).status_code == 200
    assert client.delete("/api/v1/auth/me", headers=api_headers, json={"password": PASSWORD}).status_code == 204
    assert client.get("/api/v1/auth/me", headers=api_headers).status_code == 401
    from app.extensions import db
    from app.models import ApiToken, User

    with app.app_context():
        assert db.session.query(User).count() == 0
        assert db.session.query(ApiToken).count() == 0


def test_unknown_api_path_and_method_use_the_error_shape(client, api_headers):
    r = client.get("/api/v1/no-such-thing", headers=api_headers)
    assert r.status_code == 404 and set(r.json) == ERROR_KEYS
    r = client.put("/api/v1/auth/me", headers=api_headers)
    assert r.status_code == 405 and set(r.json) == ERROR_KEYS
