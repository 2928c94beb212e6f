"""CSV Analyzer: the application factory."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from config import Config, config_from_env


def create_app(config: Config | None = None) -> Flask:
    """Build the app from `config` (default: the environment)."""
    config = config or config_from_env()
    config.finalise()
    app = Flask(__name__, instance_path=str(config.INSTANCE_DIR))
    app.config.from_object(config)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=config.SESSION_ABSOLUTE_HOURS)
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(hours=config.SESSION_ABSOLUTE_HOURS)

    from app.request_log import configure_logging

    configure_logging(app)
    size_arrow_pool(app.config["ARROW_THREADS"])
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    register_template_context(app)
    return app


def size_arrow_pool(threads: int = 0) -> None:
    """Give Arrow's CPU pool every core (or `threads`), whatever OMP_NUM_THREADS says.

    Arrow sizes its pool from OMP_NUM_THREADS, which web processes set to 1 for OpenMP's sake
    (its spin-waiting stalled predictions under load). Arrow's idle threads sleep instead, and
    with one of them an upload's CSV parse and typing ran on a single core.
    """
    import os

    import pyarrow as pa

    pa.set_cpu_count(threads if threads > 0 else (os.cpu_count() or 1))


NAV_ITEMS = [
    ("datasets.index", "Datasets"),
    ("training.models", "Models"),
    ("training.experiments", "Experiments"),
    ("monitoring.index", "Monitoring"),
    ("admin.index", "Admin"),
]


def register_template_context(app: Flask) -> None:
    from flask_login import current_user

    @app.context_processor
    def navigation():
        items = [(e, label) for e, label in NAV_ITEMS if e in app.view_functions]
        if not (current_user.is_authenticated and current_user.is_admin):
            items = [(e, label) for e, label in items if e != "admin.index"]
        return {"nav_items": items}


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (tables known to Alembic)
    from app.blueprints.auth import init_login
    from app.extensions import api, csrf, db, limiter, login_manager, migrate
    from app.security import register_security
    from app.storage import init_storage
    from app.telemetry import init_metrics

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()))
    csrf.init_app(app)
    limiter.init_app(app)
    init_login(app, login_manager)
    api.init_app(app)
    init_metrics(app)
    register_security(app)
    init_storage(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:"):
        with app.app_context():
            _enable_sqlite_wal(db.engine)
    from app.jobs import init_app as init_jobs

    init_jobs(app)  # last: its start-up recovery connects to the database


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"


def _enable_sqlite_wal(engine) -> None:
    """WAL and a busy timeout, so concurrent writers wait instead of failing."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL's advice: no fsync per commit, still consistent
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def register_blueprints(app: Flask) -> None:
    from app.blueprints.admin import init_app as init_admin
    from app.blueprints.auth.api import api_bp as auth_api
    from app.blueprints.auth.operations import add_account_eraser
    from app.blueprints.auth.views import bp as auth_bp
    from app.blueprints.core.views import bp as core_bp
    from app.blueprints.datasets.api import api_bp as datasets_api
    from app.blueprints.datasets.service import delete_all_for as delete_datasets
    from app.blueprints.datasets.views import bp as datasets_bp
    from app.blueprints.monitoring import routes as monitoring_routes
    from app.blueprints.prediction.api import api_bp as prediction_api
    from app.blueprints.prediction.model_cache import init_model_cache
    from app.blueprints.prediction.views import bp as prediction_bp
    from app.blueprints.training import job as _training_job  # noqa: F401 (registers the job function)
    from app.blueprints.training.api import api_bp as training_api
    from app.blueprints.training.tracking import init_tracking
    from app.blueprints.training.views import bp as training_bp
    from app.extensions import api, csrf

    monitoring_bp, monitoring_api = monitoring_routes.load()
    for bp in (core_bp, auth_bp, datasets_bp, training_bp, prediction_bp, monitoring_bp):
        app.register_blueprint(bp)
    for api_bp in (auth_api, datasets_api, training_api, prediction_api, monitoring_api):
        api.register_blueprint(api_bp)
        csrf.exempt(api_bp)  # bearer tokens only: the API never reads the session cookie
    add_account_eraser(app, delete_datasets)
    init_admin(app)  # the admin page, the eraser of models/jobs/MLflow runs, prediction retention
    init_tracking(app)
    init_model_cache(app)


def register_error_handlers(app: Flask) -> None:
    from app.errors import register_error_handlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from app.cli import register_cli

    register_cli(app)
