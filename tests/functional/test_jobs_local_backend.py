"""The local backend for real: job processes, cancel, deadline, hard kill, crash, slots.

The job functions below are registered only by this module; a job process
imports it again by name to find them.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from app.extensions import db
from app.jobs import cancel, enqueue, get_backend, job_function, refresh
from app.models.job import Job

WAIT_S = 120  # generous: the job-process server preloads MLflow and scikit-learn (28 s seen at load 9)


@job_function("test_progress")
def report_progress_n_times(job_id, ctx):
    n = 5
    for i in range(n):
        ctx.report_progress({"candidates_done": i + 1, "fraction": (i + 1) / n, "best_score": 0.9})
        time.sleep(0.05)
    return {"n": n, "pid": os.getpid()}


@job_function("test_until_stopped")
def run_until_stopped(job_id, ctx):
    """Works until cancelled or its deadline, then keeps its best so far."""
    while not ctx.should_stop():
        ctx.report_progress({"message": "working"})
        time.sleep(0.05)
    return {"best": "so far"}


@job_function("test_ignores_stop")
def ignore_should_stop(job_id, ctx):
    while True:
        time.sleep(0.05)


@job_function("test_ignores_sigterm")
def ignore_sigterm_and_should_stop(job_id, ctx):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(0.05)


@job_function("test_raises")
def raise_an_error(job_id, ctx):
    raise RuntimeError("No candidate could be trained: every fit failed.")


@job_function("test_crashes")
def crash(job_id, ctx):
    os._exit(3)


@job_function("test_threads")
def report_threads(job_id, ctx):
    from threadpoolctl import threadpool_info

    return {"omp": os.environ.get("OMP_NUM_THREADS"),
            "pools": sorted({p["num_threads"] for p in threadpool_info()})}


@pytest.fixture
def app(make_config):
    from app import create_app

    app = create_app(make_config(
        JOB_HEARTBEAT_INTERVAL_S=0.2, JOB_HEARTBEAT_TIMEOUT_S=10.0, JOB_CANCEL_GRACE_S=1.0,
        JOB_KILL_GRACE_S=0.5, JOB_MAX_CONCURRENT=1, JOB_THREADS=2,
    ))
    get_backend_of(app).warm_up()
    yield app
    get_backend_of(app).terminate_all()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def get_backend_of(app):
    with app.app_context():
        return get_backend()


@pytest.fixture
def user_id(make_user):
    return make_user()[0]


def start(app, user_id, kind, request=None, **kwargs) -> int:
    with app.app_context():
        return enqueue(user_id, kind, request or {}, **kwargs).id


def wait_for(app, job_id, statuses, timeout=WAIT_S) -> Job:
    deadline = time.monotonic() + timeout
    with app.app_context():
        while True:
            db.session.expire_all()
            job = refresh(db.session.get(Job, job_id))
            if job.status in statuses or time.monotonic() > deadline:
                db.session.expunge(job)
                return job
            time.sleep(0.1)


def test_a_job_runs_in_a_child_process_and_reports_progress(app, user_id):
    job_id = start(app, user_id, "test_progress")
    job = wait_for(app, job_id, {"succeeded", "failed"})
    assert job.status == "succeeded", job.error
    assert job.result["n"] == 5 and job.result["pid"] not in (None, os.getpid())
    assert job.progress["candidates_done"] == 5 and job.progress["fraction"] == 1.0
    assert job.started_at and job.finished_at and job.heartbeat_at and job.pid == job.result["pid"]


def test_cancel_ends_the_process(app, user_id):
    job_id = start(app, user_id, "test_until_stopped")
    job = wait_for(app, job_id, {"running"})
    assert job.status == "running"
    wait_until_working(app, job_id)
    with app.app_context():
        cancelled = cancel(db.session.get(Job, job_id))
        assert cancelled.status == "cancelled"
        pid = cancelled.pid
    assert wait_gone(pid)
    assert wait_for(app, job_id, {"failed"}, timeout=0).status == "cancelled"


def test_cancel_from_another_web_process_ends_the_job_process(app, user_id, make_config):
    """A second app stands for a second gunicorn worker: it did not start the job."""
    from app import create_app

    job_id = start(app, user_id, "test_ignores_sigterm")  # only SIGKILL ends it
    wait_for(app, job_id, {"running"})
    wait_until_started(app, job_id)
    other = create_app(make_config(JOB_CANCEL_GRACE_S=1.0))
    with other.app_context():
        job = cancel(db.session.get(Job, job_id))
        assert job.status == "cancelled" and job.pid
        db.session.remove()
    assert wait_gone(job.pid)
    assert wait_for(app, job_id, set(), timeout=0).status == "cancelled"


def test_a_killed_job_process_is_interrupted(app, user_id):
    job_id = start(app, user_id, "test_until_stopped")
    wait_for(app, job_id, {"running"})
    pid = wait_until_started(app, job_id)
    os.kill(pid, signal.SIGKILL)
    job = wait_for(app, job_id, {"succeeded", "failed"})
    assert (job.status, job.error) == ("failed", "interrupted")


def test_at_the_deadline_the_job_stops_and_keeps_its_best(app, user_id):
    job_id = start(app, user_id, "test_until_stopped", {"budget": 1}, time_budget_s=1.0)
    job = wait_for(app, job_id, {"succeeded", "failed"})
    assert job.status == "succeeded", job.error
    assert job.result == {"best": "so far"}


def test_a_job_that_ignores_its_deadline_is_killed(app, user_id):
    job_id = start(app, user_id, "test_ignores_stop", time_budget_s=0.5)
    job = wait_for(app, job_id, {"succeeded", "failed"})
    assert job.status == "failed" and "deadline" in job.error
    assert wait_gone(job.pid)


def test_a_raising_job_fails_with_its_message(app, user_id):
    job = wait_for(app, start(app, user_id, "test_raises"), {"succeeded", "failed"})
    assert job.status == "failed"
    assert job.error == "No candidate could be trained: every fit failed."


def test_a_crashed_job_process_is_interrupted(app, user_id):
    job = wait_for(app, start(app, user_id, "test_crashes"), {"succeeded", "failed"})
    assert (job.status, job.error) == ("failed", "interrupted")


def test_one_slot_queues_the_next_job_until_the_first_ends(app, user_id):
    first = start(app, user_id, "test_until_stopped", {"n": 1})
    second = start(app, user_id, "test_progress", {"n": 2})
    assert wait_for(app, first, {"running"}).status == "running"
    assert wait_for(app, second, {"running"}, timeout=1).status == "queued"
    with app.app_context():
        cancel(db.session.get(Job, first))
    job = wait_for(app, second, {"succeeded", "failed"})
    assert job.status == "succeeded", job.error


def test_a_job_process_uses_the_configured_threads(app, user_id):
    job = wait_for(app, start(app, user_id, "test_threads"), {"succeeded", "failed"})
    assert job.status == "succeeded", job.error
    assert job.result["omp"] == "2" and max(job.result["pools"] or [2]) == 2


def wait_until_working(app, job_id):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if wait_for(app, job_id, set(), timeout=0).progress.get("message") == "working":
            return
        time.sleep(0.1)


def wait_until_started(app, job_id) -> int:
    """The pid of the job process once it runs its function."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        job = wait_for(app, job_id, set(), timeout=0)
        if job.started_at is not None:
            return job.pid
        time.sleep(0.1)
    raise AssertionError("the job never started")


def wait_gone(pid, timeout=WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if _is_zombie(pid):
            return True
        time.sleep(0.1)
    return False


def _is_zombie(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
