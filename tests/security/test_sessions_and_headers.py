"""What tests/functional/test_auth_*.py leaves out of issue #8's list: tokens in the query string or
a form field, expired and revoked tokens, Retry-After on every limited endpoint, and the security
headers on every kind of response (pages, fragments, JSON, errors, redirects, static files).
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from tests.conftest import PASSWORD, csrf_token_from
from tests.security.conftest import (
    CSV_SMALL,
    World,
    browser_for,
    build_app,
    copy_instance,
    count,
    upload,
)

# --- tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["access_token", "token", "api_key", "bearer", "Authorization"])
def test_a_token_anywhere_but_the_header_is_ignored(world: World, where: str):
    client = world.app.test_client()
    r = client.get(f"/api/v1/datasets?{where}={world.owner_token}")
    assert r.status_code == 401
    r = client.post("/api/v1/training-jobs/preview", json={where: world.owner_token, "dataset_id": 1,
                                                           "target": "species"})
    assert r.status_code == 401
    r = client.get("/api/v1/datasets", headers={"Cookie": f"{where}={world.owner_token}"})
    assert r.status_code == 401


@pytest.mark.parametrize("header", ["Token {t}", "Basic {t}", "Bearer  {t}x", "bearer", "Bearer {t} {t}"])
def test_malformed_authorization_headers_are_401(world: World, header: str):
    r = world.app.test_client().get("/api/v1/datasets", headers={"Authorization": header.format(t=world.owner_token)})
    assert r.status_code == 401 and r.json["code"] == 401


def _new_token(world: World, **changes) -> str:
    from app.blueprints.auth import operations as ops
    from app.extensions import db
    from app.models import User

    with world.app.app_context():
        row, secret = ops.create_token(db.session.get(User, world.owner_id), "lifetime", None)
        for key, value in changes.items():
            setattr(row, key, value(row) if callable(value) else value)
        db.session.commit()
        return secret


def test_expired_and_revoked_tokens_are_401(world: World):
    from app.models.user import utcnow

    client = world.app.test_client()
    expired = _new_token(world, expires_at=utcnow() - timedelta(seconds=1))
    assert client.get("/api/v1/datasets", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    revoked = _new_token(world, revoked_at=utcnow() - timedelta(seconds=1))
    assert client.get("/api/v1/datasets", headers={"Authorization": f"Bearer {revoked}"}).status_code == 401
    live = _new_token(world)
    headers = {"Authorization": f"Bearer {live}"}
    assert client.get("/api/v1/datasets", headers=headers).status_code == 200
    tokens = client.get("/api/v1/auth/tokens", headers=headers).json
    mine = [t for t in tokens if t["name"] == "lifetime" and t["revoked_at"] is None and t["expires_at"] is None]
    assert client.delete(f"/api/v1/auth/tokens/{mine[-1]['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/datasets", headers=headers).status_code == 401


def test_the_api_never_reads_the_session_cookie_nor_needs_csrf(world: World):
    r = world.owner.client.get("/api/v1/datasets")  # logged-in browser, no bearer token
    assert r.status_code == 401
    r = world.app.test_client().patch(f"/api/v1/datasets/{world.dataset_id}", headers=world.api("owner"),
                                      json={"name": world.app.test_client().get(
                                          f"/api/v1/datasets/{world.dataset_id}",
                                          headers=world.api("owner")).json["name"]})
    assert r.status_code == 200  # a bearer call needs no CSRF token


def test_htmx_post_without_token_or_from_another_site_is_refused(world: World):
    url = f"/datasets/{world.dataset_id}/rename"
    r = world.owner.client.post(url, data={"name": "x"}, headers={"HX-Request": "true"})
    assert r.status_code == 400
    r = world.owner.request("POST", url, htmx=True, data={"name": "x"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 400
    count("hostile inputs tried", 2)


# --- rate limits: Retry-After on each limited endpoint -----------------------------------------

LIMITED = {
    # name: (setting, how to call it once)
    "login page": ("RATELIMIT_LOGIN", lambda c: c.browser.request(
        "POST", "/auth/login", data={"email": "nobody@example.com", "password": "wrong password"})),
    "register page": ("RATELIMIT_REGISTER", lambda c: browser_for(c.app, None).request(
        "POST", "/auth/register", data={"email": f"r{c.next()}@example.com", "password": PASSWORD,
                                        "confirm": PASSWORD})),
    "register API": ("RATELIMIT_REGISTER", lambda c: c.client.post(
        "/api/v1/auth/register", json={"email": f"a{c.next()}@example.com", "password": PASSWORD})),
    "token API": ("RATELIMIT_TOKENS", lambda c: c.client.post(
        "/api/v1/auth/tokens", json={"email": "limits@example.com", "password": PASSWORD, "name": "t"})),
    "token page": ("RATELIMIT_TOKENS", lambda c: c.browser.request("POST", "/account/tokens", data={"name": "t"})),
    "upload API": ("RATELIMIT_UPLOADS", lambda c: upload(c.client, c.headers, CSV_SMALL, "l.csv")),
    "upload page": ("RATELIMIT_UPLOADS", lambda c: c.browser.request(
        "POST", "/datasets/upload", data={"file": (io.BytesIO(CSV_SMALL), "l.csv")})),
    "training API": ("RATELIMIT_TRAINING", lambda c: c.client.post(
        "/api/v1/training-jobs", headers=c.headers, json={"dataset_id": c.dataset_id, "target": "no_such"})),
    "training page": ("RATELIMIT_TRAINING", lambda c: c.browser.request(
        "POST", f"/datasets/{c.dataset_id}/train", data={"target": "no_such"})),
}


class Callers:
    def __init__(self, app, headers, dataset_id):
        self.app, self.client, self.headers, self.dataset_id = app, app.test_client(), headers, dataset_id
        self.browser = browser_for(app, "limits@example.com")
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


@pytest.fixture(scope="module")
def limited(template_instance, mlflow_template, postgres_url, tmp_path_factory):
    """An app with every limit at 1 per hour, one user and a dataset (made before the limits bite)."""
    from app.blueprints.auth import operations as ops
    from app.extensions import db

    instance = copy_instance(template_instance, mlflow_template, tmp_path_factory.mktemp("limits") / "instance")
    limits = {name: "1000/hour" for name in ("RATELIMIT_LOGIN", "RATELIMIT_REGISTER", "RATELIMIT_TOKENS",
                                             "RATELIMIT_UPLOADS", "RATELIMIT_TRAINING")}
    app = build_app(instance, postgres_url, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", **limits)
    with app.app_context():
        user = ops.register_user("limits@example.com", PASSWORD)
        db.session.commit()
        _, token = ops.create_token(user, "limits", None)
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    dataset_id = upload(app.test_client(), headers, CSV_SMALL, "d.csv").json["id"]
    callers = Callers(app, headers, dataset_id)
    for name in limits:
        app.config[name] = "1/hour"
    yield callers
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("name", list(LIMITED))
def test_each_limited_endpoint_answers_429_with_retry_after(limited: Callers, name: str):
    _, call = LIMITED[name]
    statuses = [call(limited).status_code for _ in range(3)]
    last = call(limited)
    assert 429 in statuses or last.status_code == 429, (name, statuses)
    assert last.status_code == 429, (name, last.status_code)
    assert int(last.headers["Retry-After"]) > 0, name
    if "API" in name:
        assert last.json["code"] == 429 and "Try again later" in last.json["message"]
    else:
        assert last.mimetype == "text/html"
    assert all(s < 500 for s in statuses)
    count("rate-limited endpoints checked")


# --- security headers on every kind of response -----------------------------------------------

def _assert_headers(r, what: str, https: bool = False) -> None:
    csp = r.headers.get("Content-Security-Policy", "")
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "default-src 'self'"):
        assert directive in csp, (what, csp)
    script = next((d for d in csp.split(";") if d.strip().startswith("script-src")), "")
    assert script and "'unsafe-inline'" not in script and "'unsafe-eval'" not in csp, (what, csp)
    assert r.headers.get("X-Content-Type-Options") == "nosniff", what
    assert r.headers.get("Referrer-Policy"), what
    assert r.headers.get("X-Frame-Options") == "DENY", what
    if https:
        assert "max-age=" in r.headers.get("Strict-Transport-Security", ""), what
    else:
        assert "Strict-Transport-Security" not in r.headers, what


def test_security_headers_on_every_kind_of_response(world: World, monkeypatch):
    static = sorted(p.name for p in (world.app.static_folder and __import__("pathlib").Path(
        world.app.static_folder).rglob("*.css")))[:1]
    anonymous = world.app.test_client()
    responses = {
        "page": world.owner.request("GET", "/"),
        "fragment": world.owner.request("GET", f"/datasets/{world.dataset_id}", htmx=True),
        "download": world.owner.request("GET", f"/datasets/{world.dataset_id}/download?format=csv"),
        "login redirect": anonymous.get("/models"),
        "login page": anonymous.get("/auth/login"),
        "html 404": world.owner.request("GET", "/no/such/page"),
        "html 404 fragment": world.owner.request("GET", "/datasets/987654", htmx=True),
        "html 405": world.owner.request("DELETE", "/models"),
        "csrf 400": world.owner.client.post(f"/datasets/{world.dataset_id}/rename", data={"name": "x"}),
        "api json": anonymous.get("/api/v1/datasets", headers=world.api("owner")),
        "api 401": anonymous.get("/api/v1/datasets"),
        "api 404": anonymous.get("/api/v1/datasets/987654", headers=world.api("owner")),
        "api 422": anonymous.post("/api/v1/training-jobs", headers=world.api("owner"), json={}),
        "api 413": anonymous.post("/api/v1/models/1/predict", headers=world.api("owner"),
                                  json={"rows": [{}] * 10_001}),
        "openapi": anonymous.get("/api/openapi.json"),
        "api docs": anonymous.get("/api/docs"),
        "healthz": anonymous.get("/healthz"),
    }
    if static:
        css = next(__import__("pathlib").Path(world.app.static_folder).rglob(static[0]))
        rel = css.relative_to(world.app.static_folder)
        responses["static"] = anonymous.get(f"/static/{rel}")
        assert responses["static"].status_code == 200
    monkeypatch.setitem(world.app.view_functions, "core.healthz", lambda: 1 / 0)
    monkeypatch.setattr(world.app, "testing", False)
    monkeypatch.setitem(world.app.config, "PROPAGATE_EXCEPTIONS", False)
    responses["500"] = anonymous.get("/healthz")
    assert responses["500"].status_code == 500
    assert "ZeroDivisionError" not in responses["500"].text and "Traceback" not in responses["500"].text
    for what, r in responses.items():
        _assert_headers(r, what)
        count("responses checked for security headers")
    https = world.app.test_client().get("/auth/login", base_url="https://localhost")
    _assert_headers(https, "https", https=True)


# --- session lifetimes -----------------------------------------------------------------------

def _age_sessions(world: World, user_id: int, **delta) -> None:
    from app.extensions import db
    from app.models import UserSession

    with world.app.app_context():
        for row in db.session.query(UserSession).filter_by(user_id=user_id):
            for column, age in delta.items():
                setattr(row, column, getattr(row, column) - age)
        db.session.commit()


def test_absolute_timeout_ends_even_a_remembered_session(world: World):
    from app.blueprints.auth import operations as ops
    from app.extensions import db

    with world.app.app_context():
        user = ops.register_user("lifetime@example.com", PASSWORD)
        db.session.commit()
        user_id = user.id
    client = world.app.test_client()
    token = csrf_token_from(client.get("/auth/login").text)
    client.post("/auth/login", data={"email": "lifetime@example.com", "password": PASSWORD, "remember": "y",
                                     "csrf_token": token})
    assert client.get("/").status_code == 200
    idle = timedelta(minutes=world.app.config["SESSION_IDLE_MINUTES"] + 5)
    _age_sessions(world, user_id, last_seen_at=idle)
    assert client.get("/").status_code == 200  # remembered: idle time does not end it
    absolute = timedelta(hours=world.app.config["SESSION_ABSOLUTE_HOURS"] + 1)
    _age_sessions(world, user_id, created_at=absolute)
    r = client.get("/")
    assert r.status_code == 302 and "/auth/login" in r.headers["Location"]
