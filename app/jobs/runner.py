"""Run one job in the current process: claim its start, call its function, record the end.

Backend-neutral: the local backend calls it in a child process, the Celery task
(app.jobs.celery_app) in a worker's pool process. It needs an app context (the job function may use
db.session) and commits nothing of the function's own work.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable

from app.extensions import db
from app.jobs import store
from app.jobs.context import JobContext
from app.jobs.registry import JobFunction, registered
from app.jobs.settings import kill_grace_s
from app.models.job import CANCELLED, FAILED, SUCCEEDED

log = logging.getLogger(__name__)


class JobTerminated(BaseException):
    """Raised in the job's main thread on SIGTERM, so `finally` blocks clean up."""


def hostname() -> str:
    return socket.gethostname()


def user_message(exc: BaseException) -> str:
    """What a user sees of a failure: the exception's message, never a traceback."""
    message = getattr(exc, "message", None)
    if not isinstance(message, str) or not message:
        message = str(exc) or type(exc).__name__
    return message


def execute(
    app, job_id: int, *, function: JobFunction | None = None,
    on_overrun: Callable[[], None] | None = None,
    on_abandoned: Callable[[], None] | None = None, worker: str | None = None,
) -> str | None:
    """Run job `job_id` to its end; the status it ended with (None if it did not start).

    `worker` names the process in the job row (default: this host's name).
    """
    engine = db.engine
    row = store.read(engine, job_id)
    if row is None:
        log.warning("job %s: no such job", job_id)
        return None
    function = function or registered(row["kind"]).function
    budget = row["time_budget_s"]
    started = store.mark_started(
        engine, job_id, pid=os.getpid(), worker=worker or hostname(), budget_s=budget,
        grace_s=kill_grace_s(app.config, budget),
    )
    if started is None:
        log.info("job %s: cancelled or finished before it started", job_id)
        return None
    ctx = JobContext(app, job_id, engine, row=row, on_overrun=on_overrun, on_abandoned=on_abandoned,
                     **started)
    ctx.start()
    try:
        result = function(job_id, ctx)
    except JobTerminated:
        db.session.rollback()
        db.session.remove()
        ctx.close()
        store.finish(engine, job_id, CANCELLED, progress=ctx.progress)
        return CANCELLED
    except Exception as exc:  # the function's failure is the job's, not the runner's
        log.exception("job %s (%s) failed", job_id, row["kind"])
        db.session.rollback()
        db.session.remove()
        ctx.close()
        store.finish(engine, job_id, FAILED, error=user_message(exc), progress=ctx.progress)
        return FAILED
    finally:
        ctx.close()
    # The function's own pending rows and the success commit together, or not at all
    # (a job cancelled meanwhile keeps nothing).
    progress = ctx.progress | {"fraction": 1.0, "remaining_s": 0.0}
    statement = store.finish_statement(job_id, SUCCEEDED, result=result or {}, progress=progress)
    try:
        if db.session.execute(statement).rowcount == 1:
            db.session.commit()
            return SUCCEEDED
        db.session.rollback()
        return store.read(engine, job_id)["status"]
    finally:
        db.session.remove()
