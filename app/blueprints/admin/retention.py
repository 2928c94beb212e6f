"""Prediction-input samples are kept PREDICTION_RETENTION_DAYS (30) days, then purged.

The purge runs when a server starts, once a day in each long-running server process,
and on demand with `flask purge` (for a cron job or a Kubernetes CronJob).
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

log = logging.getLogger(__name__)
DEFAULT_RETENTION_DAYS = 30
DAY_S = 24 * 3600


def retention_days(config) -> int:
    return int(config.get("PREDICTION_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS)


def purge(app: Flask) -> int:
    """Remove prediction samples older than the retention; how many went."""
    from app.blueprints.prediction.service import purge_old_predictions

    with app.app_context():
        removed = purge_old_predictions(retention_days(app.config))
        db.session.commit()
        if removed:
            log.info("retention: purged %d prediction samples older than %d days", removed,
                     retention_days(app.config))
        return removed


def _purge_quietly(app: Flask) -> None:
    try:
        purge(app)
    except SQLAlchemyError:  # no table yet (before the first migration) or the database is away
        log.debug("retention: purge skipped", exc_info=True)
        with app.app_context():
            db.session.rollback()


def _daily(app: Flask, stop: threading.Event) -> None:
    while not stop.wait(DAY_S):
        _purge_quietly(app)


def init_retention(app: Flask) -> None:
    """Purge at start, then daily in a daemon thread (not in tests or job processes)."""
    if app.config.get("JOB_PROCESS"):
        return
    _purge_quietly(app)
    with app.app_context():
        db.engine.dispose()  # no pooled connection predates the app's connect hooks
    if not app.testing:
        stop = threading.Event()
        app.extensions["retention_stop"] = stop
        threading.Thread(target=_daily, args=(app, stop), name="prediction-retention", daemon=True).start()
