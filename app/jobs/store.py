"""State transitions of a job row, each one short transaction on its own connection.

Every write is a single conditional UPDATE (compare-and-set on the status), so
processes racing on the same row (a cancel against a finish, two dispatchers)
agree without locks. `bind` is an Engine (job processes, supervisor threads: a
connection of their own) or the request's Session: then the statement joins the
request's transaction, which is committed at once (another process must see the
change, and a second connection would wait on the request's own SQLite lock).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, func, or_, select, text, update
from sqlalchemy.orm import Session, scoped_session

from app.models.job import (
    CANCELLED,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Job,
    empty_progress,
)
from app.models.user import utcnow

jobs = Job.__table__
MAX_ERROR_CHARS = 2000
_DISPATCH_LOCK_ID = 727_301  # PostgreSQL advisory lock serialising the local dispatcher


Bind = Engine | Session | scoped_session


@contextmanager
def transaction(bind: Bind) -> Iterator:
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    else:
        try:
            yield bind
            bind.commit()
        except BaseException:
            bind.rollback()
            raise


@contextmanager
def reading(bind: Bind) -> Iterator:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            yield conn
    else:
        yield bind


def clean_json(value):
    """JSON-safe copy: NaN and inf become None (PostgreSQL's JSON refuses them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return clean_json(value.item())
    return value


def read(bind: Bind, job_id: int) -> dict | None:
    with reading(bind) as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return dict(row) if row else None


def count_running(bind: Bind) -> int:
    with reading(bind) as conn:
        return conn.execute(select(func.count()).where(jobs.c.status == RUNNING)).scalar_one()


def has_queued(bind: Bind) -> bool:
    with reading(bind) as conn:
        return conn.execute(select(jobs.c.id).where(jobs.c.status == QUEUED).limit(1)).first() is not None


def claim_next(bind: Bind, max_running: int, worker: str) -> int | None:
    """Move the oldest queued job to running if a slot is free; its id, or None.

    started_at stays empty until the job process begins (mark_started): the
    budget runs from then, and the starter beats for the job meanwhile.
    """
    oldest = (
        select(jobs.c.id).where(jobs.c.status == QUEUED)
        .order_by(jobs.c.created_at, jobs.c.id).limit(1).scalar_subquery()
    )
    running = select(func.count()).where(jobs.c.status == RUNNING).scalar_subquery()
    now = utcnow()
    progress = empty_progress() | {"message": "Starting"}
    statement = (
        update(jobs)
        .where(jobs.c.id == oldest, jobs.c.status == QUEUED, running < max_running)
        .values(status=RUNNING, heartbeat_at=now, worker=worker, progress=progress)
        .returning(jobs.c.id)
    )
    with transaction(bind) as conn:
        dialect = conn.dialect if isinstance(conn, Connection) else conn.get_bind().dialect
        if dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DISPATCH_LOCK_ID})
        return conn.execute(statement).scalar()


def claim(bind: Bind, job_id: int, worker: str) -> bool:
    """Move one queued job to running for `worker` (a Celery delivery); False if not queued.

    A message delivered twice (a redelivery, a re-send) finds the job running or
    ended and does nothing: the row, not the broker, decides that a job runs once.
    """
    statement = (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status == QUEUED, jobs.c.cancel_requested.is_(False))
        .values(status=RUNNING, heartbeat_at=utcnow(), worker=worker,
                progress=empty_progress() | {"message": "Starting"})
    )
    with transaction(bind) as conn:
        return conn.execute(statement).rowcount == 1


def fail_queued(bind: Bind, job_id: int, error: str) -> bool:
    """Fail a job that never started (its message could not be sent)."""
    with transaction(bind) as conn:
        statement = finish_statement(job_id, FAILED, error=error, only_from=(QUEUED,))
        return conn.execute(statement).rowcount == 1


def set_pid(bind: Bind, job_id: int, pid: int) -> None:
    with transaction(bind) as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == RUNNING).values(pid=pid))


def mark_started(
    bind: Bind, job_id: int, *, pid: int, worker: str, budget_s: float | None, grace_s: float
) -> dict | None:
    """The job process begins: the budget runs from now. None if it was cancelled meanwhile."""
    now = utcnow()
    deadline = now + timedelta(seconds=budget_s) if budget_s else None
    kill_at = deadline + timedelta(seconds=grace_s) if deadline else None
    statement = (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status.in_((QUEUED, RUNNING)), jobs.c.cancel_requested.is_(False))
        .values(
            status=RUNNING, started_at=now, heartbeat_at=now, deadline_at=deadline,
            kill_at=kill_at, pid=pid, worker=worker,
        )
    )
    with transaction(bind) as conn:
        if conn.execute(statement).rowcount != 1:
            return None
    return {"started_at": now, "deadline_at": deadline, "kill_at": kill_at}


def beat(bind: Bind, job_id: int, progress: dict | None) -> bool:
    """Write the heartbeat (and progress); False when the job is no longer wanted."""
    values: dict = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = clean_json(progress)
    statement = (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status == RUNNING, jobs.c.cancel_requested.is_(False))
        .values(**values)
    )
    with transaction(bind) as conn:
        return conn.execute(statement).rowcount == 1


def finish_statement(
    job_id: int, status: str, *, result: dict | None = None, error: str | None = None,
    progress: dict | None = None, only_from: tuple = (RUNNING,),
):
    assert status in (SUCCEEDED, FAILED, CANCELLED)
    values: dict = {"status": status, "finished_at": utcnow()}
    if result is not None:
        values["result"] = clean_json(result)
    if error is not None:
        values["error"] = error[:MAX_ERROR_CHARS]
    if progress is not None:
        values["progress"] = clean_json(progress)
    if status == CANCELLED:
        values["cancel_requested"] = True
    return update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(only_from)).values(**values)


def finish(bind: Bind, job_id: int, status: str, **kwargs) -> bool:
    """Record the end of a job unless something else ended it first."""
    with transaction(bind) as conn:
        return conn.execute(finish_statement(job_id, status, **kwargs)).rowcount == 1


def stale_running(bind: Bind, cutoff: datetime) -> list[int]:
    """Running jobs whose last heartbeat is before `cutoff` (or missing)."""
    with reading(bind) as conn:
        return list(conn.execute(
            select(jobs.c.id).where(
                jobs.c.status == RUNNING,
                or_(jobs.c.heartbeat_at.is_(None), jobs.c.heartbeat_at < cutoff),
            )
        ).scalars())


def running_on(bind: Bind, worker: str) -> list[tuple[int, int]]:
    """(id, pid) of running jobs that recorded a pid on this host."""
    with reading(bind) as conn:
        rows = conn.execute(
            select(jobs.c.id, jobs.c.pid).where(
                jobs.c.status == RUNNING, jobs.c.worker == worker, jobs.c.pid.is_not(None)
            )
        )
        return [(row.id, row.pid) for row in rows]


def interrupt(bind: Bind, job_id: int, *, stale_before: datetime | None = None,
              pid: int | None = None) -> bool:
    """Fail a running job "interrupted", if it is still in the state that showed it was lost."""
    conditions = [jobs.c.id == job_id, jobs.c.status == RUNNING]
    if stale_before is not None:
        conditions.append(or_(jobs.c.heartbeat_at.is_(None), jobs.c.heartbeat_at < stale_before))
    if pid is not None:
        conditions.append(jobs.c.pid == pid)
    statement = update(jobs).where(and_(*conditions)).values(
        status=FAILED, error=INTERRUPTED, finished_at=utcnow()
    )
    with transaction(bind) as conn:
        return conn.execute(statement).rowcount == 1


def request_cancel(bind: Bind, job_id: int) -> bool:
    """Mark an active job cancelled; False if it had already finished."""
    statement = (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status.in_((QUEUED, RUNNING)))
        .values(status=CANCELLED, cancel_requested=True, finished_at=utcnow())
    )
    with transaction(bind) as conn:
        return conn.execute(statement).rowcount == 1
