"""Register, log in, log out and the account page, through the real forms."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, csrf_token_from


def post_form(client, page_url, post_url, **data):
    data["csrf_token"] = csrf_token_from(client.get(page_url).text)
    return client.post(post_url, data=data)


def test_register_signs_in_and_shows_the_empty_home(client):
    r = post_form(client, "/auth/register", "/auth/register", email="ada@example.com", password=PASSWORD)
    assert r.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert "No datasets yet" in home.text
    assert "ada@example.com" in client.get("/account").text


def test_register_errors_are_shown_not_crashed(client, make_user):
    make_user()
    r = post_form(client, "/auth/register", "/auth/register", email="ada@example.com", password=PASSWORD)
    assert r.status_code == 409 and "already exists" in r.text
    r = post_form(client, "/auth/register", "/auth/register", email="eve@example.com", password="short")
    assert r.status_code == 422 and "at least 10 characters" in r.text


def test_wrong_password_is_401_with_a_message(client, make_user, login):
    make_user()
    r = login(password="not the password")
    assert r.status_code == 401
    assert "Wrong e-mail or password" in r.text


def test_form_without_csrf_token_is_rejected(client, make_user):
    make_user()
    r = client.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD})
    assert r.status_code == 400
    assert client.get("/").status_code == 302  # still signed out


def test_foreign_origin_is_rejected_over_https(client, make_user):
    make_user()
    token = csrf_token_from(client.get("/auth/login", base_url="https://localhost").text)
    r = client.post("/auth/login", base_url="https://localhost",
                    data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token},
                    headers={"Referer": "https://evil.example/"})
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account", "/account"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_is_limited_to_this_site(client, make_user, target, expected):
    make_user()
    token = csrf_token_from(client.get("/auth/login").text)
    r = client.post("/auth/login", query_string={"next": target},
                    data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    assert r.headers["Location"] == expected


def test_login_gives_a_new_session(client, make_user):
    make_user()
    client.get("/auth/login")
    before = client.get_cookie("session")
    token = csrf_token_from(client.get("/auth/login").text)
    client.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token})
    after = client.get_cookie("session")
    assert after is not None and (before is None or after.value != before.value)


def test_logout_ends_the_session_on_the_server(app, client, make_user, login):
    make_user()
    login()
    captured = client.get_cookie("session").value
    assert post_form(client, "/account", "/auth/logout").status_code == 302
    assert client.get("/").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", captured)
    assert replay.get("/").status_code == 302  # the captured cookie no longer works


def test_password_change_ends_other_sessions_and_tokens(app, client, make_user, make_token, login):
    user_id, _ = make_user()
    token = make_token(user_id)
    other = app.test_client()
    token_page = other.get("/auth/login").text
    other.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD,
                                    "csrf_token": csrf_token_from(token_page)})
    assert other.get("/").status_code == 200
    login()
    r = post_form(client, "/account", "/account/password",
                  **{"pw-current_password": PASSWORD, "pw-new_password": "a brand new password"})
    assert r.status_code == 302
    assert client.get("/").status_code == 200  # this session stays
    assert other.get("/").status_code == 302  # the other one ended
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    client.post("/auth/logout", data={"csrf_token": csrf_token_from(client.get("/account").text)})
    assert post_form(client, "/auth/login", "/auth/login", email="ada@example.com",
                     password="a brand new password").status_code == 302


def test_wrong_current_password_changes_nothing(client, make_user, login):
    make_user()
    login()
    r = post_form(client, "/account", "/account/password",
                  **{"pw-current_password": "wrong password", "pw-new_password": "another password"})
    assert r.status_code == 422 and "current password is wrong" in r.text


def test_create_and_revoke_a_token_in_the_browser(client, make_user, login):
    make_user()
    login()
    r = post_form(client, "/account", "/account/tokens", **{"tok-name": "laptop", "tok-expires_in_days": "30"})
    assert r.status_code == 200
    assert "will not be shown again" in r.text
    secret = r.text.split('id="new-token-value">')[1].split("<")[0]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    token_id = client.get("/api/v1/auth/tokens", headers=headers).json[0]["id"]
    assert secret not in client.get("/account").text  # shown once only
    assert post_form(client, "/account", f"/account/tokens/{token_id}/revoke").status_code == 302
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert "revoked" in client.get("/account").text


def test_logout_everywhere(app, client, make_user, login):
    make_user()
    login()
    other = app.test_client()
    other.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD,
                                    "csrf_token": csrf_token_from(other.get("/auth/login").text)})
    assert post_form(client, "/account", "/account/logout-everywhere").status_code == 302
    assert client.get("/").status_code == 302
    assert other.get("/").status_code == 302


def test_delete_account_in_the_browser(client, make_user, login):
    make_user()
    login()
    r = post_form(client, "/account", "/account/delete", **{"del-password": "wrong password"})
    assert r.status_code == 422
    r = post_form(client, "/account", "/account/delete", **{"del-password": PASSWORD})
    assert r.status_code == 302
    assert login().status_code == 401


def test_idle_sessions_expire(make_config, make_user):
    from app import create_app

    app = create_app(make_config(SESSION_IDLE_MINUTES=0))
    from app.blueprints.auth import operations as ops
    from app.extensions import db

    with app.app_context():
        ops.register_user("ada@example.com", PASSWORD)
        db.session.commit()
    client = app.test_client()
    client.post("/auth/login", data={"email": "ada@example.com", "password": PASSWORD,
                                     "csrf_token": csrf_token_from(client.get("/auth/login").text)})
    assert client.get("/").status_code == 302


def test_login_is_rate_limited_with_retry_after(make_config):
    from app import create_app

    app = create_app(make_config(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3/minute"))
    client = app.test_client()
    token = csrf_token_from(client.get("/auth/login").text)
    statuses = [client.post("/auth/login", data={"email": "x@example.com", "password": "wrong password",
                                                  "csrf_token": token}).status_code for _ in range(4)]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429
    last = client.post("/auth/login", data={"email": "x@example.com", "password": "p", "csrf_token": token})
    assert last.status_code == 429 and int(last.headers["Retry-After"]) > 0


def test_api_registration_is_rate_limited_with_json_429(make_config):
    from app import create_app

    app = create_app(make_config(RATELIMIT_ENABLED=True, RATELIMIT_REGISTER="2/hour"))
    client = app.test_client()
    for i in range(2):
        client.post("/api/v1/auth/register", json={"email": f"u{i}@example.com", "password": PASSWORD})
    r = client.post("/api/v1/auth/register", json={"email": "u9@example.com", "password": PASSWORD})
    assert r.status_code == 429
    assert r.json["code"] == 429 and "Retry-After" in r.headers


def test_pages_need_login(client):
    for url in ("/", "/account"):
        r = client.get(url)
        assert r.status_code == 302 and r.headers["Location"].startswith("/auth/login")


def test_foreign_origin_is_rejected_over_http(client, make_user):
    make_user()
    token = csrf_token_from(client.get("/auth/login").text)
    data = {"email": "ada@example.com", "password": PASSWORD, "csrf_token": token}
    r = client.post("/auth/login", data=data, headers={"Origin": "http://evil.example"})
    assert r.status_code == 400
    assert client.post("/auth/login", data=data, headers={"Origin": "http://localhost"}).status_code == 302
