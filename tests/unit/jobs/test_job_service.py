"""Creating, de-duplicating, cancelling, retrying and recovering jobs (no job processes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import unit_job_functions  # noqa: F401  (registers the unit_* kinds)

from app.errors import Conflict
from app.extensions import db
from app.jobs import (
    DuplicateJob,
    UnknownJobKind,
    cancel,
    create_job,
    find_duplicate,
    recover_stale_jobs,
    refresh,
    request_key,
    retry,
)
from app.jobs.runner import hostname
from app.models.job import Job


def test_request_key_ignores_key_order_but_not_user_or_kind():
    a = request_key(1, "training", {"target": "y", "time_budget_s": 60})
    assert a == request_key(1, "training", {"time_budget_s": 60, "target": "y"})
    assert a != request_key(2, "training", {"target": "y", "time_budget_s": 60})
    assert a != request_key(1, "batch_scoring", {"target": "y", "time_budget_s": 60})
    assert a != request_key(1, "training", {"target": "y", "time_budget_s": 61})


def test_create_job_is_queued_and_flushed_not_committed(app, user_id):
    with app.app_context():
        job = create_job(user_id, "unit_echo", {"n": 1}, time_budget_s=5)
        assert job.id is not None and job.status == "queued"
        assert job.progress["fraction"] == 0.0 and job.cancel_requested is False
        db.session.rollback()
        assert db.session.get(Job, job.id) is None


def test_unknown_kind_is_refused(app, user_id):
    with app.app_context(), pytest.raises(UnknownJobKind):
        create_job(user_id, "no_such_kind", {})


def test_same_request_while_active_is_409_with_the_job_id(app, user_id, make_user):
    with app.app_context():
        first = create_job(user_id, "unit_echo", {"a": 1, "b": [1, 2]})
        db.session.commit()
        with pytest.raises(DuplicateJob) as info:
            create_job(user_id, "unit_echo", {"b": [1, 2], "a": 1})
        assert info.value.status == 409 and info.value.errors == {"job_id": first.id}
        assert find_duplicate(user_id, "unit_echo", {"a": 1, "b": [1, 2]}).id == first.id
        other_user, _ = make_user("bob@example.com")
        assert find_duplicate(other_user, "unit_echo", {"a": 1, "b": [1, 2]}) is None
        create_job(user_id, "unit_echo", {"a": 2, "b": [1, 2]})  # another request is fine


def test_finished_job_is_no_duplicate(app, user_id, make_job):
    make_job(request={"a": 1}, status="failed")
    with app.app_context():
        assert find_duplicate(user_id, "unit_echo", {"a": 1}) is None


def test_cancel_a_queued_job_then_409(app, make_job):
    job_id = make_job()
    with app.app_context():
        job = cancel(db.session.get(Job, job_id))
        assert job.status == "cancelled" and job.cancel_requested and job.finished_at
        with pytest.raises(Conflict) as info:
            cancel(job)
        assert info.value.status == 409


@pytest.mark.parametrize("status", ["succeeded", "queued", "running"])
def test_retry_refused_unless_failed_or_cancelled(app, make_job, status):
    job_id = make_job(status=status, heartbeat_age_s=0)
    with app.app_context(), pytest.raises(Conflict):
        retry(db.session.get(Job, job_id))


def test_retry_creates_a_new_job_with_the_same_request(app, make_job):
    job_id = make_job(request={"target": "y"}, status="failed", error="boom", time_budget_s=7.0)
    with app.app_context():
        new = retry(db.session.get(Job, job_id))
        assert new.id != job_id and new.status == "queued"  # no slot: JOB_MAX_CONCURRENT=0
        assert new.request == {"target": "y"} and new.time_budget_s == 7.0
        assert new.retry_of_id == job_id
        with pytest.raises(DuplicateJob):  # the retry itself is now the active request
            retry(db.session.get(Job, job_id))


def test_stale_running_job_is_interrupted_on_refresh(app, make_job):
    stale = make_job(status="running", heartbeat_age_s=60, request={"a": 1})
    fresh = make_job(status="running", heartbeat_age_s=0, request={"a": 2})
    queued = make_job(status="queued", request={"a": 3})
    with app.app_context():
        job = refresh(db.session.get(Job, stale))
        assert (job.status, job.error) == ("failed", "interrupted") and job.finished_at
        assert db.session.get(Job, fresh).status == "running"
        assert db.session.get(Job, queued).status == "queued"
        assert recover_stale_jobs() == []
        assert refresh() is None  # a list view refreshes without a job


def test_running_job_with_a_dead_pid_here_is_interrupted_at_once(app, make_job):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    lost = make_job(status="running", heartbeat_age_s=0, pid=pid, worker=hostname(), request={"a": 1})
    elsewhere = make_job(status="running", heartbeat_age_s=0, pid=pid, worker="another-host",
                         request={"a": 2})
    alive = make_job(status="running", heartbeat_age_s=0, pid=os.getpid(), worker=hostname(),
                     request={"a": 3})
    with app.app_context():
        assert recover_stale_jobs() == [lost]
        assert db.session.get(Job, lost).error == "interrupted"
        assert db.session.get(Job, elsewhere).status == "running"
        assert db.session.get(Job, alive).status == "running"


def test_app_start_recovers_jobs_a_previous_server_left_running(make_job, make_config):
    from app import create_app

    job_id = make_job(status="running", heartbeat_age_s=3600)
    app = create_app(make_config())
    with app.app_context():
        assert db.session.get(Job, job_id).status == "failed"
        db.session.remove()
        db.engine.dispose()


def test_a_racing_identical_submission_is_409_too(app, user_id, monkeypatch):
    """Both passed the duplicate check: the unique index on active requests decides."""
    from app.jobs import service

    real_find = service.find_duplicate
    calls = []

    def racing_find(*args):
        calls.append(args)
        return None if len(calls) == 1 else real_find(*args)  # the first check saw nothing

    with app.app_context():
        first = create_job(user_id, "unit_echo", {"a": 1})
        db.session.commit()
        monkeypatch.setattr(service, "find_duplicate", racing_find)
        with pytest.raises(DuplicateJob) as info:
            create_job(user_id, "unit_echo", {"a": 1})
        assert info.value.errors == {"job_id": first.id} and len(calls) == 2
