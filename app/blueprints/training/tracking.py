"""The MLflow tracker of this installation (SQLite store and artifact root under INSTANCE_DIR)."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, current_app

from app.readiness import add_check


def tracking_settings(config) -> tuple[str, Path]:
    uri = config["MLFLOW_TRACKING_URI"]
    artifacts = Path(config["MLFLOW_ARTIFACT_ROOT"])
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    return uri, artifacts


def make_tracker(config=None):
    """A tracker on the configured store (creating a fresh SQLite store takes a few seconds)."""
    from app.ml.tracking import MlflowTracker

    uri, artifacts = tracking_settings(config or current_app.config)
    return MlflowTracker(uri, artifacts)


def tracking_store_ready(app: Flask) -> str | None:
    """The store answers (a missing SQLite file is fine: the first job creates it)."""
    uri = app.config["MLFLOW_TRACKING_URI"]
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        folder = path.parent
        if path.exists() and not path.is_file():
            return "tracking store: not a file"
        if folder.exists() and not folder.is_dir():
            return "tracking store: its folder is not a directory"
        return None
    try:
        import urllib.request

        if uri.startswith(("http://", "https://")):
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=2):  # noqa: S310
                return None
    except OSError as exc:
        return f"tracking store: {exc}"
    return None


# Imported once by the job forkserver, so a training job does not spend seconds of its
# budget importing them (skops alone took 3 s on a busy machine at the first model save).
TRAINING_PRELOAD = ("mlflow", "mlflow.sklearn", "mlflow.models", "skops.io", "sklearn.ensemble",
                    "app.ml.training", "app.ml.tracking",
                    "mlflow.store.tracking.sqlalchemy_store")  # 2 s of a job's model load (models:/ URIs)


def count_running_jobs() -> None:
    """Set the jobs-running gauge from the database (left as it was if the database fails)."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from app.extensions import db
    from app.models import Job
    from app.telemetry import app_metrics

    try:
        running = db.session.scalar(select(func.count(Job.id)).where(Job.status == "running"))
    except SQLAlchemyError:
        db.session.rollback()
        logging.getLogger(__name__).warning("metrics: could not count running jobs", exc_info=True)
        return
    app_metrics().jobs_running.set(running or 0)


def init_tracking(app: Flask) -> None:
    from app.telemetry import add_metrics_refresher

    add_check(app, tracking_store_ready)
    add_metrics_refresher(app, count_running_jobs)
    app.config.setdefault("JOB_PRELOAD_MODULES", TRAINING_PRELOAD)
