"""Admin: the users page (storage, activity; disable, enable, delete), quota, erasure, retention."""

from __future__ import annotations


def init_app(app) -> None:
    """The admin page, the account eraser for models, jobs and MLflow, and prediction retention."""
    from app.blueprints.admin.erasure import erase_models_and_jobs
    from app.blueprints.admin.retention import init_retention
    from app.blueprints.admin.views import bp
    from app.blueprints.auth.operations import add_account_eraser

    app.register_blueprint(bp)
    add_account_eraser(app, erase_models_and_jobs)
    init_retention(app)
