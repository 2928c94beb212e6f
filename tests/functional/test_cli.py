"""The administrative commands."""

from __future__ import annotations

from tests.conftest import PASSWORD


def test_create_user_admin_and_reset_password(app, client, login):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "--email", "Root@Example.com", "--password", PASSWORD, "--admin"])
    assert result.exit_code == 0, result.output
    assert "(admin)" in result.output
    assert login("root@example.com").status_code == 302

    result = runner.invoke(args=["create-user", "--email", "root@example.com", "--password", PASSWORD])
    assert result.exit_code != 0 and "already exists" in result.output
    result = runner.invoke(args=["create-user", "--email", "x@example.com", "--password", "short"])
    assert result.exit_code != 0 and "10 characters" in result.output

    result = runner.invoke(args=["reset-password", "--email", "root@example.com", "--password", "a new long password"])
    assert result.exit_code == 0, result.output
    assert client.get("/").status_code == 302  # the reset ended the session
    assert login("root@example.com", "a new long password").status_code == 302
    result = runner.invoke(args=["reset-password", "--email", "nobody@example.com", "--password", PASSWORD])
    assert result.exit_code != 0 and "No user" in result.output


def test_create_user_works_with_registration_closed(make_config):
    from app import create_app

    app = create_app(make_config(REGISTRATION_OPEN=False))
    result = app.test_cli_runner().invoke(args=["create-user", "--email", "a@example.com", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
