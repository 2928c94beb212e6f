"""The `celery` backend: jobs run on Celery workers fed through Redis (`make worker`).

The web process only publishes a job id; a worker's task (app.jobs.celery_app)
claims the queued row and calls app.jobs.runner.execute. The job row stays the
truth: a message delivered twice finds the job no longer queued and does nothing,
and a job whose worker died is failed "interrupted" by the heartbeat check
(recover_stale_jobs, run by web refreshes and by every worker), not by Redis's
visibility timeout.
"""

from __future__ import annotations

import logging

from celery import Celery
from flask import Flask

from app.extensions import db
from app.jobs import store
from app.jobs.settings import setting

log = logging.getLogger(__name__)

TASK_NAME = "csv_analyzer.run_job"
QUEUE_UNREACHABLE = "The job queue could not be reached; the job did not start. Retry it later."


def make_celery(app: Flask) -> Celery:
    """A Celery app configured from the Flask config (broker, queue, late acknowledgement)."""
    config = app.config
    queue = setting(config, "CELERY_QUEUE")
    celery = Celery("csv_analyzer", set_as_current=False)
    celery.conf.update(
        broker_url=setting(config, "CELERY_BROKER_URL"),
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": setting(config, "CELERY_VISIBILITY_TIMEOUT_S")},
        task_default_queue=queue,
        task_routes={TASK_NAME: {"queue": queue}},
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # the job row holds the outcome
        # Acknowledge once the job ended, one message at a time: a worker holds only what it runs.
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        # A pool process that dies mid-job (SIGKILL, out of memory, a hard deadline exit) acks its
        # message as failed instead of requeueing it: the heartbeat fails the job "interrupted" and
        # the user retries; a poison job never loops through the workers.
        task_reject_on_worker_lost=False,
        worker_max_tasks_per_child=setting(config, "CELERY_MAX_TASKS_PER_CHILD"),
        worker_hijack_root_logger=False,  # the app's JSON logging stays
        worker_send_task_events=False,
        worker_enable_remote_control=True,  # revoke (cancel) needs it
        task_send_sent_event=False,
        broker_pool_limit=4,
    )
    return celery


def task_id(job_id: int, created_at) -> str:
    """A task id per job row (a recycled job id in a new database gets a new task id)."""
    stamp = int(created_at.timestamp() * 1_000_000) if created_at is not None else 0
    return f"job-{job_id}-{stamp}"


class CeleryBackend:
    """Publishes job ids to the Celery queue; cancels by revoke plus the database flag."""

    name = "celery"

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.celery = make_celery(app)  # connects lazily, at the first publish

    # --- the Backend protocol ---------------------------------------------------
    def submit(self, job_id: int) -> None:
        row = store.read(db.engine, job_id)
        if row is None:
            return
        try:
            self.celery.send_task(
                TASK_NAME, args=[job_id], task_id=task_id(job_id, row["created_at"]),
                queue=setting(self.app.config, "CELERY_QUEUE"),
                retry=True, retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
            )
        except Exception:
            # No message means no worker will ever claim it: a queued row would block the same
            # request (409) forever. Fail it now; the user can retry once the broker is back.
            log.exception("job %s: could not publish to the Celery broker", job_id)
            store.fail_queued(db.engine, job_id, QUEUE_UNREACHABLE)

    def dispatch(self, bind=None) -> list[int]:
        """Nothing to start here: workers take jobs from the queue themselves."""
        return []

    def cancel(self, job_id: int, pid: int | None, worker: str | None) -> None:
        """Revoke the task (a queued message is dropped; a running one gets SIGTERM).

        The row is already cancelled: a worker that misses the revoke still sees it at its
        next heartbeat and stops, and a queued message finds the job no longer queued.
        """
        row = store.read(db.engine, job_id)
        if row is None:
            return
        try:
            self.celery.control.revoke(task_id(job_id, row["created_at"]), terminate=True, signal="SIGTERM")
        except Exception:
            log.warning("job %s: could not send the revoke (the heartbeat stops it)", job_id, exc_info=True)

    def is_lost(self, job_id: int, pid: int | None, worker: str | None) -> bool:
        """Unknown from here (the job runs on another machine): the heartbeat decides."""
        return False
