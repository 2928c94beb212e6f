"""The admin page: only admins see it; users with storage and activity; disable, enable, delete."""

from __future__ import annotations

from tests.conftest import PASSWORD, csrf_token_from
from tests.functional.test_datasets_api import CSV, upload


def _post(client, path):
    page = client.get("/admin")
    return client.post(path, data={"csrf_token": csrf_token_from(page.text)})


def test_admin_page_lists_users_with_storage_counts_and_activity(client, make_user, make_token, login):
    make_user("root@example.com", admin=True)
    bob_id, _ = make_user("bob@example.com")
    bob = {"Authorization": f"Bearer {make_token(bob_id)}"}
    assert upload(client, bob).status_code == 201
    assert client.get("/api/v1/auth/me", headers=bob).status_code == 200  # bob was active just now
    login("root@example.com")
    page = client.get("/admin")
    assert page.status_code == 200
    assert 'href="/admin"' in page.text  # the nav item appears for an admin
    row = page.text.split(f'id="user-{bob_id}"')[1].split("</tr>")[0]
    assert "bob@example.com" in row
    size = int(row.split('data-bytes="')[1].split('"')[0])
    assert size >= len(CSV)  # the upload and its Parquet version
    cells = [c.split(">", 1)[1].split("<", 1)[0] for c in row.split("<td")[1:]]
    assert cells[2] == "1" and cells[3] == "0"  # one dataset, no model
    assert "<time" in row and "never" not in row


def test_non_admins_and_visitors_do_not_see_the_page(client, make_user, login):
    make_user("root@example.com", admin=True)
    make_user("bob@example.com")
    assert client.get("/admin").status_code in (302, 401)  # a visitor is sent to sign in
    login("bob@example.com")
    assert client.get("/admin").status_code == 404
    assert 'href="/admin"' not in client.get("/").text
    token = csrf_token_from(client.get("/account").text)
    assert client.post("/admin/users/1/disable", data={"csrf_token": token}).status_code == 404


def test_disable_ends_sessions_refuses_tokens_and_login_enable_restores(app, client, make_user, make_token,
                                                                          login):
    make_user("root@example.com", admin=True)
    bob_id, _ = make_user("bob@example.com")
    bob = {"Authorization": f"Bearer {make_token(bob_id)}"}
    bob_browser = app.test_client()
    page = bob_browser.get("/auth/login")
    bob_browser.post("/auth/login", data={"email": "bob@example.com", "password": PASSWORD,
                                          "csrf_token": csrf_token_from(page.text)})
    assert bob_browser.get("/").status_code == 200
    login("root@example.com")
    r = _post(client, f"/admin/users/{bob_id}/disable")
    assert r.status_code == 303
    assert "disabled" in client.get("/admin").text
    assert client.get("/api/v1/auth/me", headers=bob).status_code == 401
    assert bob_browser.get("/").status_code == 302  # the session ended
    page = bob_browser.get("/auth/login")
    r = bob_browser.post("/auth/login", data={"email": "bob@example.com", "password": PASSWORD,
                                              "csrf_token": csrf_token_from(page.text)})
    assert r.status_code != 302 and "disabled" in r.text
    assert _post(client, f"/admin/users/{bob_id}/enable").status_code == 303
    assert client.get("/api/v1/auth/me", headers=bob).status_code == 200


def test_actions_need_csrf(client, make_user, login):
    make_user("root@example.com", admin=True)
    bob_id, _ = make_user("bob@example.com")
    login("root@example.com")
    assert client.post(f"/admin/users/{bob_id}/disable").status_code == 400
    assert client.post(f"/admin/users/{bob_id}/delete").status_code == 400
    assert "bob@example.com" in client.get("/admin").text


def test_no_action_on_yourself_nor_on_the_last_admin(app, client, make_user, login):
    root_id, _ = make_user("root@example.com", admin=True)
    login("root@example.com")
    assert _post(client, f"/admin/users/{root_id}/disable").status_code == 409
    assert _post(client, f"/admin/users/{root_id}/delete").status_code == 409
    assert _post(client, "/admin/users/999/delete").status_code == 404
    from app.blueprints.admin import service
    from app.errors import Conflict
    from app.extensions import db
    from app.models import User

    with app.app_context():  # another admin acting on the last active one (e.g. from a script)
        other = User(email="x@example.com", password_hash="-", is_admin=False)
        root = db.session.get(User, root_id)
        for action in (service.disable_user, service.delete_user):
            try:
                action(other, root)
            except Conflict as exc:
                assert "last active admin" in exc.message
            else:
                raise AssertionError("the last admin was removed")


def test_delete_user_erases_their_account_and_data(app, client, make_user, make_token, login):
    make_user("root@example.com", admin=True)
    bob_id, _ = make_user("bob@example.com")
    bob = {"Authorization": f"Bearer {make_token(bob_id)}"}
    assert upload(client, bob).status_code == 201
    login("root@example.com")
    r = _post(client, f"/admin/users/{bob_id}/delete")
    assert r.status_code == 303
    assert "bob@example.com" not in client.get("/admin").text.split("<tbody>")[1]
    assert client.get("/api/v1/auth/me", headers=bob).status_code == 401
    assert not [p for p in (app.config["DATA_DIR"] / "datasets").rglob("*") if p.is_file()]
