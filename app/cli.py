"""Administrative commands: `flask create-user` and `flask reset-password`."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from app.blueprints.auth import operations as ops
from app.errors import DomainError
from app.extensions import db
from app.models import User


def register_cli(app: Flask) -> None:
    register_tracking_cli(app)

    @app.cli.command("create-user")
    @click.option("--email", prompt=True)
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--admin", is_flag=True, help="Make the user an administrator.")
    def create_user(email: str, password: str, admin: bool) -> None:
        """Create a user (even when registration is closed)."""
        try:
            user = ops.register_user(email, password, is_admin=admin or None)
        except DomainError as exc:
            raise click.ClickException(_describe(exc)) from exc
        db.session.commit()
        click.echo(f"Created user {user.id} <{user.email}>{' (admin)' if user.is_admin else ''}.")

    @app.cli.command("reset-password")
    @click.option("--email", prompt=True)
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    def reset_password(email: str, password: str) -> None:
        """Set a user's password; ends all their sessions and tokens."""
        user = db.session.scalar(select(User).where(User.email == ops.normalise_email(email)))
        if user is None:
            raise click.ClickException(f"No user with e-mail {email}.")
        try:
            ops.set_password(user, password)
        except DomainError as exc:
            raise click.ClickException(_describe(exc)) from exc
        db.session.commit()
        click.echo(f"Password of <{user.email}> reset; their sessions and tokens were ended.")


def register_tracking_cli(app: Flask) -> None:
    @app.cli.command("init-tracking")
    def init_tracking() -> None:
        """Create the MLflow store now (a fresh one takes seconds; jobs should not pay for it)."""
        from app.blueprints.training.tracking import make_tracker

        tracker = make_tracker(app.config)
        click.echo(f"MLflow store ready: {tracker.tracking_uri}")


def _describe(exc: DomainError) -> str:
    details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.get("json", {}).items())
    return f"{exc.message} {details}".strip()
