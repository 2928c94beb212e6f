"""Running a job function in-process: outcome, progress, heartbeat, stop requests."""

from __future__ import annotations

import threading
import time

import unit_job_functions
from sqlalchemy import update

from app.extensions import db
from app.jobs import store
from app.jobs.runner import execute
from app.models.job import Job


def _job(app, job_id) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_success_records_result_progress_and_times(app, make_job):
    job_id = make_job(kind="unit_echo", time_budget_s=30)
    with app.app_context():
        assert execute(app, job_id) == "succeeded"
        job = _job(app, job_id)
        assert job.status == "succeeded" and job.error is None
        assert job.result == {"job_id": job_id, "score": None}  # NaN is stored as null
        assert job.progress["fraction"] == 1.0 and job.progress["candidates_done"] == 3
        assert job.started_at <= job.finished_at and job.heartbeat_at is not None
        assert (job.deadline_at - job.started_at).total_seconds() == 30
        assert (job.kill_at - job.deadline_at).total_seconds() == 0.5  # JOB_KILL_GRACE_S


def test_the_context_carries_the_request(app, make_job, user_id):
    job_id = make_job(kind="unit_echo", request={"target": "y"}, time_budget_s=9.0)
    seen = {}

    def look(job_id, ctx):
        seen.update(kind=ctx.kind, user_id=ctx.user_id, request=ctx.request, budget=ctx.time_budget_s,
                    remaining=ctx.remaining_s(), config=ctx.config["TESTING"])
        return None

    with app.app_context():
        execute(app, job_id, function=look)
    assert seen["kind"] == "unit_echo" and seen["user_id"] == user_id
    assert seen["request"] == {"target": "y"} and seen["budget"] == 9.0
    assert 0 < seen["remaining"] <= 9.0 and seen["config"] is True


def test_a_raising_function_fails_the_job_with_its_message(app, make_job, caplog):
    job_id = make_job(kind="unit_raises")
    with app.app_context():
        assert execute(app, job_id) == "failed"
        job = _job(app, job_id)
        assert job.error == "The column 'price' has no numbers."
        assert "Traceback" not in job.error
    assert any(r.exc_info for r in caplog.records)  # the traceback goes to the log


def test_a_cancelled_job_does_not_start(app, make_job):
    job_id = make_job(kind="unit_echo", status="cancelled", cancel_requested=True)
    with app.app_context():
        assert execute(app, job_id) is None
        assert _job(app, job_id).started_at is None


def test_deadline_asks_the_function_to_stop_and_keeps_its_result(app, make_job):
    job_id = make_job(kind="unit_until_stop", time_budget_s=0.3)
    with app.app_context():
        assert execute(app, job_id) == "succeeded"
        assert _job(app, job_id).result == {"cancelled": False}


def test_cancel_elsewhere_reaches_should_stop_through_the_heartbeat(app, make_job):
    job_id = make_job(kind="unit_until_stop")
    with app.app_context():
        engine = db.engine

    def cancel_soon():
        time.sleep(0.3)
        store.request_cancel(engine, job_id)

    threading.Thread(target=cancel_soon).start()
    with app.app_context():
        assert execute(app, job_id) == "cancelled"  # the function's return does not undo it
        job = _job(app, job_id)
        assert job.status == "cancelled" and job.result is None


def test_progress_writes_are_throttled_and_the_heartbeat_carries_the_rest(app, make_job, monkeypatch):
    job_id = make_job(kind="unit_echo")
    writes = []
    real_beat = store.beat

    def counting_beat(*args):
        writes.append((threading.current_thread() is threading.main_thread(), args[2]))
        return real_beat(*args)

    monkeypatch.setattr(store, "beat", counting_beat)

    def chatty(job_id, ctx):
        for i in range(200):
            ctx.report_progress({"candidates_done": i + 1})
        time.sleep(0.5)  # several heartbeats (every 0.1 s)
        return None

    with app.app_context():
        app.config["JOB_PROGRESS_MIN_INTERVAL_S"] = 60.0
        assert execute(app, job_id, function=chatty) == "succeeded"
    by_reports = [p for from_main, p in writes if from_main]
    by_heartbeat = [p for from_main, p in writes if not from_main]
    assert len(by_reports) == 1  # the first report; the rest waited for the throttle
    assert by_heartbeat and by_heartbeat[-1]["candidates_done"] == 200  # the heartbeat carried them


def test_heartbeat_keeps_a_long_quiet_job_fresh(app, make_job):
    job_id = make_job(kind="unit_echo")
    seen = {}

    def quiet(job_id, ctx):
        time.sleep(0.4)
        seen.update(store.read(db.engine, job_id))
        return None

    with app.app_context():
        execute(app, job_id, function=quiet)
    assert seen["heartbeat_at"] > seen["started_at"]  # beats without any report


def test_overrun_past_the_hard_deadline_fails_the_job(app, make_job):
    job_id = make_job(kind="unit_until_stop", time_budget_s=0.1)
    overrun = threading.Event()

    def ignores_stop(job_id, ctx):
        overrun.wait(5)  # until the heartbeat thread polices it
        return {"late": True}

    with app.app_context():
        status = execute(app, job_id, function=ignores_stop, on_overrun=overrun.set)
        assert status == "failed"
        assert "deadline" in _job(app, job_id).error


def test_finish_is_compare_and_set(app, make_job):
    job_id = make_job(status="running", heartbeat_age_s=0)
    with app.app_context():
        assert store.finish(db.engine, job_id, "cancelled")
        assert not store.finish(db.engine, job_id, "succeeded")
        assert not store.beat(db.engine, job_id, {"fraction": 0.5})
        assert _job(app, job_id).status == "cancelled"


def test_claim_next_takes_the_oldest_and_respects_the_limit(app, make_job):
    first = make_job(request={"a": 1})
    make_job(request={"a": 2})
    with app.app_context():
        assert store.claim_next(db.engine, 1, "here") == first
        assert store.claim_next(db.engine, 1, "here") is None  # the one slot is taken
        with db.engine.begin() as conn:
            conn.execute(update(Job.__table__).where(Job.id == first).values(status="succeeded"))
        assert store.claim_next(db.engine, 1, "here") == first + 1


def test_clean_json_makes_values_json_safe():
    import numpy as np

    assert store.clean_json({"a": float("inf"), "b": [np.float64(1.5), np.int64(2)], 3: (None,)}) == {
        "a": None, "b": [1.5, 2], "3": [None]}


assert unit_job_functions  # the module registers the unit_* kinds
