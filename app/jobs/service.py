"""The job life cycle the web layer calls: create, submit, cancel, retry, refresh.

create_job() only flushes (the caller commits, then submits). The others change
state that other processes act on, so they commit at once: cancel, retry (a
new job), refresh (which may fail a lost job and start queued ones).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.errors import Conflict
from app.extensions import db
from app.jobs import store
from app.jobs.backend import get_backend, make_backend
from app.jobs.registry import registered
from app.jobs.settings import setting
from app.models.job import ACTIVE, CANCELLED, FAILED, Job
from app.models.user import utcnow

log = logging.getLogger(__name__)


class DuplicateJob(Conflict):
    """The same request is already queued or running; `errors` holds its id."""

    def __init__(self, job: Job):
        super().__init__(
            f"The same request is already {job.status} as job {job.id}.", errors={"job_id": job.id}
        )
        self.job_id = job.id


def _user_id(user) -> int:
    return user if isinstance(user, int) else user.id


def request_key(user, kind: str, request: dict) -> str:
    """A hash of who asked for what: equal for the same kind, user and request."""
    canonical = json.dumps([kind, _user_id(user), request], sort_keys=True,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def find_duplicate(user, kind: str, request: dict) -> Job | None:
    """The queued or running job of `user` for the same `kind` and `request`, if any."""
    return db.session.scalar(
        select(Job).where(
            Job.request_key == request_key(user, kind, request),
            Job.user_id == _user_id(user),
            Job.status.in_(ACTIVE),
        ).order_by(Job.id.desc()).limit(1)
    )


def create_job(user, kind: str, request: dict, *, time_budget_s: float | None = None,
               retry_of_id: int | None = None) -> Job:
    """A queued job (flushed, not committed): commit, then submit(job.id).

    Raises DuplicateJob (409) when the same request is queued or running (a
    lost race is caught by a unique index; the session is then rolled back).
    """
    registered(kind)
    duplicate = find_duplicate(user, kind, request)
    if duplicate is not None:
        raise DuplicateJob(duplicate)
    job = Job(
        user_id=_user_id(user), kind=kind, request=store.clean_json(request),
        request_key=request_key(user, kind, request), time_budget_s=time_budget_s,
        retry_of_id=retry_of_id,
    )
    db.session.add(job)
    try:
        db.session.flush()
    except IntegrityError:  # an identical request won the race (unique while active)
        db.session.rollback()
        duplicate = find_duplicate(user, kind, request)
        if duplicate is None:
            raise
        raise DuplicateJob(duplicate) from None
    return job


def submit(job_id: int) -> None:
    """Hand the committed job to the backend: it starts now or when a slot frees."""
    get_backend().submit(job_id)


def enqueue(user, kind: str, request: dict, *, time_budget_s: float | None = None,
            retry_of_id: int | None = None) -> Job:
    """create_job, commit, submit: the one call of a view that starts long work."""
    job = create_job(user, kind, request, time_budget_s=time_budget_s, retry_of_id=retry_of_id)
    db.session.commit()
    submit(job.id)
    db.session.refresh(job)
    return job


def cancel(job: Job) -> Job:
    """Cancel a queued or running job (its process is ended); 409 once it has finished."""
    if not store.request_cancel(db.session, job.id):
        db.session.refresh(job)
        raise Conflict(f"The job has already {job.status}.", errors={"status": job.status})
    db.session.refresh(job)
    get_backend().cancel(job.id, job.pid, job.worker)
    return job


def retry(job: Job) -> Job:
    """A new job with the same request; 409 unless `job` failed or was cancelled."""
    if job.status not in (FAILED, CANCELLED):
        raise Conflict(f"Only a failed or cancelled job can be retried; this one is {job.status}.",
                       errors={"status": job.status})
    return enqueue(job.user_id, job.kind, job.request, time_budget_s=job.time_budget_s,
                   retry_of_id=job.id)


def recover_stale_jobs(bind=None) -> list[int]:
    """Fail "interrupted" every running job whose process is gone; their ids.

    Gone means no heartbeat for JOB_HEARTBEAT_TIMEOUT_S, or (local backend) its
    pid on this host no longer exists. Queued jobs wait for a slot, not a
    heartbeat: the dispatcher starts them.
    """
    bind = bind if bind is not None else db.session
    timeout = setting(current_app.config, "JOB_HEARTBEAT_TIMEOUT_S")
    backend = get_backend()
    stale_before = utcnow() - timedelta(seconds=timeout)
    recovered = []
    for job_id in store.stale_running(bind, stale_before):
        if store.interrupt(bind, job_id, stale_before=stale_before):
            recovered.append(job_id)
    for job_id, pid in store.running_on(bind, _worker_name()):
        if backend.is_lost(job_id, pid, _worker_name()) and store.interrupt(bind, job_id, pid=pid):
            recovered.append(job_id)
    for job_id in recovered:
        log.warning("job %s: interrupted (its process stopped beating)", job_id)
    return recovered


def refresh(job: Job | None = None) -> Job | None:
    """Bring jobs up to date before showing them: fail lost jobs, start queued ones.

    With a job, it is reloaded and returned; a list view calls refresh() once.
    """
    recover_stale_jobs()
    db.session.commit()  # the dispatcher writes on its own connection: hold no SQLite lock here
    get_backend().dispatch()
    if job is not None:
        db.session.refresh(job)
    return job


def init_app(app: Flask) -> None:
    """Bind the backend; fail jobs a previous server left running (not in job processes)."""
    app.extensions["jobs"] = make_backend(app)
    if app.config.get("JOB_PROCESS") or not setting(app.config, "JOB_RECOVER_ON_START"):
        return
    with app.app_context():
        try:
            recover_stale_jobs(db.engine)
        except SQLAlchemyError:  # no jobs table yet: before the first migration
            log.debug("jobs: recovery skipped", exc_info=True)
        finally:
            db.engine.dispose()  # no pooled connection predates the app's connect hooks


def _worker_name() -> str:
    from app.jobs.runner import hostname

    return hostname()


__all__ = [
    "DuplicateJob", "cancel", "create_job", "enqueue", "find_duplicate",
    "init_app", "recover_stale_jobs", "refresh", "request_key", "retry", "submit",
]
