"""An htmx request without a (live) session is sent to the login page as a whole page.

A 302 would be followed by the browser's XHR itself and htmx would swap the login page into the
fragment's target (a login form inside the profile panel). Instead the answer is `HX-Redirect`, which
htmx 2 follows with a full navigation whatever the status; `next` is the page the user was on.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from tests.conftest import PASSWORD, csrf_token_from

FRAGMENT = "/datasets/1/profile"  # an htmx fragment (lazy-loaded on the dataset page)
HX = {"HX-Request": "true"}


def next_of(url: str) -> str | None:
    parts = urlsplit(url)
    assert parts.path == "/auth/login", url
    return parse_qs(parts.query).get("next", [None])[0]


def assert_hx_login(r, expected_next: str | None) -> None:
    assert r.status_code == 200, (r.status_code, r.headers)
    assert "Location" not in r.headers
    assert next_of(r.headers["HX-Redirect"]) == expected_next
    assert r.text == ""  # nothing htmx could swap in
    assert "csrf_token" not in r.text and "password" not in r.text
    assert "no-store" in r.headers["Cache-Control"]
    assert "HX-Request" in r.headers["Vary"]


def test_anonymous_htmx_get_gets_hx_redirect_to_the_page_it_was_on(client):
    r = client.get(FRAGMENT, headers={**HX, "HX-Current-URL": "http://localhost/datasets/1?tab=profile"})
    assert_hx_login(r, "/datasets/1?tab=profile")
    # without HX-Current-URL: the requested URL
    assert_hx_login(client.get(FRAGMENT, headers=HX), FRAGMENT)
    # a current URL on another site is never a `next`
    r = client.get(FRAGMENT, headers={**HX, "HX-Current-URL": "https://evil.example/phish"})
    assert_hx_login(r, FRAGMENT)


def test_anonymous_htmx_post_never_sends_back_to_a_post_only_url(client):
    token = csrf_token_from(client.get("/auth/login").text)
    r = client.post("/datasets/1/rename", data={"name": "x", "csrf_token": token},
                    headers={**HX, "X-CSRFToken": token})
    assert_hx_login(r, None)
    r = client.post("/datasets/1/rename", data={"name": "x", "csrf_token": token},
                    headers={**HX, "X-CSRFToken": token, "HX-Current-URL": "http://localhost/datasets/1"})
    assert_hx_login(r, "/datasets/1")


def test_pages_and_history_restores_still_get_a_302(client):
    for headers in ({}, {**HX, "HX-History-Restore-Request": "true"}):
        r = client.get("/models", headers=headers)
        assert r.status_code == 302, headers
        assert next_of(r.headers["Location"]) == "/models"
        assert "HX-Redirect" not in r.headers


def test_an_expired_session_on_an_htmx_poll_goes_to_login_and_back(app, client, make_user, login):
    from app.extensions import db
    from app.models import UserSession

    user_id, email = make_user()
    assert login(email).status_code == 302
    assert client.get("/models", headers=HX).status_code == 200
    with app.app_context():
        for row in db.session.query(UserSession).filter_by(user_id=user_id):
            row.last_seen_at -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 5)
        db.session.commit()
    r = client.get("/models", headers={**HX, "HX-Current-URL": "http://localhost/models"})
    assert_hx_login(r, "/models")
    # what htmx does next: a full page load of HX-Redirect, then the login form sends the user back
    page = client.get(r.headers["HX-Redirect"])
    assert page.status_code == 200 and "Please sign in to continue." in page.text
    back = client.post(r.headers["HX-Redirect"], data={"email": email, "password": PASSWORD,
                                                       "csrf_token": csrf_token_from(page.text)})
    assert back.status_code in (302, 303) and back.headers["Location"].endswith("/models")


def test_the_auth_blueprint_owns_the_unauthorized_handler(app):
    """Where an anonymous request goes is the auth blueprint's answer, not the app factory's."""
    from app.blueprints.auth import views

    assert app.login_manager.unauthorized_callback is views.unauthorized
