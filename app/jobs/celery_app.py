"""The Celery worker of JOB_BACKEND=celery: `celery -A app.jobs.celery_app worker` (`make worker`).

Importing this module builds the worker: the Flask app from the environment (the
same settings as the web: DATABASE_URL, DATA_DIR on shared storage,
MLFLOW_TRACKING_URI, CELERY_BROKER_URL), the Celery app from the Flask config,
and one task that runs a job by id inside an app context. The main process
imports the job modules once (JOB_PRELOAD_MODULES), fails jobs whose worker died
(every JOB_RECOVER_INTERVAL_S) and serves Prometheus metrics on WORKER_METRICS_PORT.
"""

from __future__ import annotations

import logging
import os

from app.jobs import worker as _worker

_worker.prepare_environment()  # before numpy and prometheus_client are imported

from celery import signals  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.jobs.celery_backend import TASK_NAME, make_celery  # noqa: E402
from app.jobs.registry import kinds  # noqa: E402

log = logging.getLogger(__name__)

flask_app = create_app()
celery = make_celery(flask_app)
_worker.preload(flask_app)
_recovery = _worker.RecoveryLoop(flask_app)


@celery.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=False, ignore_result=True)
def run_job(self, job_id: int) -> str | None:
    """Run job `job_id` (app.jobs.runner.execute); the row records the outcome."""
    return _worker.run_job(flask_app, int(job_id), worker=self.request.hostname)


@signals.worker_process_init.connect
def _pool_process_started(**_kwargs) -> None:
    """A forked pool process opens its own database connections."""
    with flask_app.app_context():
        db.engine.dispose(close=False)


@signals.worker_process_shutdown.connect
def _pool_process_ended(pid=None, **_kwargs) -> None:
    _worker.pool_process_exited(pid or os.getpid())


@signals.worker_ready.connect
def _worker_ready(**_kwargs) -> None:
    log.info("worker ready: job kinds %s", ", ".join(kinds()))
    _recovery.start()
    try:
        _worker.serve_metrics(flask_app.config)
    except OSError:
        log.exception("worker: could not serve metrics on WORKER_METRICS_PORT")


@signals.worker_shutdown.connect
def _worker_shutdown(**_kwargs) -> None:
    _recovery.stop()


__all__ = ["celery", "flask_app", "run_job"]
