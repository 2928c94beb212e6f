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
    register_operations_cli(app)

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


def register_operations_cli(app: Flask) -> None:
    @app.cli.group("backup")
    def backup() -> None:
        """Back up or restore the database, DATA_DIR and the MLflow store (one tar.gz)."""

    @backup.command("create")
    @click.argument("archive", type=click.Path(dir_okay=False))
    def backup_create(archive: str) -> None:
        """Write a backup archive (SQLite copied with its backup API; PostgreSQL with pg_dump)."""
        from app.backup import BackupError, create_backup

        try:
            manifest = create_backup(app, archive)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        size = sum(manifest["bytes"].values())
        click.echo(f"Backup written to {archive}: revision {manifest['alembic_revision']}, "
                   f"{size / 1e6:.1f} MB before compression, in {manifest['seconds']:.1f} s.")

    @backup.command("restore")
    @click.argument("archive", type=click.Path(exists=True, dir_okay=False))
    @click.option("--force", is_flag=True, help="Replace what this installation holds.")
    def backup_restore(archive: str, force: bool) -> None:
        """Restore a backup archive into this (empty) installation."""
        from app.backup import BackupError, restore_backup

        try:
            done = restore_backup(app, archive, force=force)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"Restored the backup of {done['created_at']} (revision {done['alembic_revision']}) "
                   f"in {done['restore_seconds']:.1f} s. Run `flask db upgrade` if this code is newer.")

    @app.cli.command("purge")
    def purge() -> None:
        """Remove prediction samples older than PREDICTION_RETENTION_DAYS (run it daily)."""
        from app.blueprints.admin.retention import purge as purge_predictions
        from app.blueprints.admin.retention import retention_days

        removed = purge_predictions(app)
        click.echo(f"Removed {removed} prediction sample(s) older than {retention_days(app.config)} days.")


def _describe(exc: DomainError) -> str:
    details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.get("json", {}).items())
    return f"{exc.message} {details}".strip()
