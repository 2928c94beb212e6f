"""JOB_BACKEND=celery without a broker: publishing, cancel, the worker's task body and recovery.

The task body (app.jobs.worker.run_job) runs in-process here; two real workers on
Redis and PostgreSQL are in tests/integration/test_celery_workers.py.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import unit_job_functions  # noqa: F401  (registers the unit_* kinds)

from app.extensions import db
from app.jobs import cancel, enqueue, get_backend, refresh, retry
from app.jobs import worker as job_worker
from app.jobs.celery_backend import QUEUE_UNREACHABLE, TASK_NAME, CeleryBackend, task_id
from app.models.job import Job


@pytest.fixture
def app(make_config):
    from app import create_app

    app = create_app(make_config(
        JOB_BACKEND="celery", CELERY_BROKER_URL="redis://127.0.0.1:9/0", CELERY_QUEUE="unit-jobs",
        JOB_HEARTBEAT_INTERVAL_S=0.1, JOB_HEARTBEAT_TIMEOUT_S=5.0, JOB_PROGRESS_MIN_INTERVAL_S=0.1,
        JOB_CANCEL_GRACE_S=0.5, JOB_KILL_GRACE_S=0.5,
    ))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class FakeCelery:
    """Records what the backend publishes and revokes."""

    def __init__(self, fail: bool = False):
        self.sent: list[dict] = []
        self.revoked: list[dict] = []
        self.fail = fail
        self.control = self

    def send_task(self, name, **kwargs):
        if self.fail:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:9. Connection refused.")
        self.sent.append({"name": name, **kwargs})

    def revoke(self, task, **kwargs):
        self.revoked.append({"task": task, **kwargs})


@pytest.fixture
def fake(app):
    backend = app.extensions["jobs"]
    backend.celery = FakeCelery()
    return backend.celery


def _job(job_id) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_the_celery_app_acks_late_one_message_at_a_time(app):
    backend = app.extensions["jobs"]
    assert isinstance(backend, CeleryBackend) and backend.name == "celery"
    conf = backend.celery.conf
    assert conf.broker_url == "redis://127.0.0.1:9/0" and conf.task_default_queue == "unit-jobs"
    assert conf.task_acks_late is True and conf.worker_prefetch_multiplier == 1
    assert conf.task_reject_on_worker_lost is False  # a dead job is failed by its heartbeat, not requeued
    assert conf.broker_transport_options["visibility_timeout"] >= 3600
    assert conf.accept_content == ["json"]


def test_enqueue_publishes_the_job_id_once(app, user_id, fake):
    with app.app_context():
        job = enqueue(user_id, "unit_echo", {"n": 1}, time_budget_s=5)
        assert job.status == "queued"
        assert fake.sent == [{"name": TASK_NAME, "args": [job.id], "task_id": task_id(job.id, job.created_at),
                              "queue": "unit-jobs", "retry": True, "retry_policy": fake.sent[0]["retry_policy"]}]
        assert get_backend().dispatch() == []  # workers pull; the web starts nothing
        refresh(job)
        assert job.status == "queued" and len(fake.sent) == 1


def test_an_unreachable_broker_fails_the_job_so_it_can_be_retried(app, user_id, fake):
    fake.fail = True
    with app.app_context():
        job = enqueue(user_id, "unit_echo", {"n": 1})
        assert job.status == "failed" and job.error == QUEUE_UNREACHABLE
        fake.fail = False
        again = retry(job)  # not blocked as a duplicate of a job stuck in "queued"
        assert again.status == "queued" and again.retry_of_id == job.id
        assert [m["args"] for m in fake.sent] == [[again.id]]


def test_cancel_marks_the_row_and_revokes_the_task(app, make_job, fake):
    job_id = make_job(kind="unit_echo")
    with app.app_context():
        job = cancel(_job(job_id))
        assert job.status == "cancelled" and job.cancel_requested
        assert fake.revoked == [{"task": task_id(job_id, job.created_at), "terminate": True, "signal": "SIGTERM"}]


def test_the_task_claims_and_runs_a_queued_job_once(app, make_job):
    job_id = make_job(kind="unit_echo", time_budget_s=30)
    assert job_worker.run_job(app, job_id, worker="w1@host") == "succeeded"
    with app.app_context():
        job = _job(job_id)
        assert job.status == "succeeded" and job.worker == "w1@host" and job.pid == os.getpid()
        assert job.progress["fraction"] == 1.0 and job.progress["candidates_done"] == 3
        finished_at = job.finished_at
    # A second delivery (redelivery after a lost ack, a re-send) finds it no longer queued.
    assert job_worker.run_job(app, job_id, worker="w2@host") is None
    with app.app_context():
        job = _job(job_id)
        assert job.worker == "w1@host" and job.finished_at == finished_at


@pytest.mark.parametrize("status", ["cancelled", "failed", "running"])
def test_the_task_leaves_a_job_that_is_not_queued(app, make_job, status):
    job_id = make_job(kind="unit_echo", status=status, heartbeat_age_s=1, worker="other@host")
    assert job_worker.run_job(app, job_id, worker="w1@host") is None
    with app.app_context():
        job = _job(job_id)
        assert job.status == status and job.worker == "other@host"


def test_a_failing_job_function_fails_the_job_not_the_task(app, make_job):
    job_id = make_job(kind="unit_raises")
    assert job_worker.run_job(app, job_id, worker="w1@host") == "failed"
    with app.app_context():
        assert _job(job_id).error == "The column 'price' has no numbers."


def test_sigterm_from_a_revoke_ends_the_job_cancelled(app, make_job):
    job_id = make_job(kind="unit_until_stop", time_budget_s=60)
    before = signal.getsignal(signal.SIGTERM)

    def revoke_when_running():
        deadline = time.monotonic() + 20
        with app.app_context():
            while time.monotonic() < deadline and _job(job_id).started_at is None:
                time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=revoke_when_running)
    thread.start()
    assert job_worker.run_job(app, job_id, worker="w1@host") == "cancelled"
    thread.join()
    assert signal.getsignal(signal.SIGTERM) == before  # the worker's own handling is back
    with app.app_context():
        assert _job(job_id).status == "cancelled"


def test_recovery_fails_only_jobs_whose_heartbeat_stopped(app, make_job):
    stale = make_job(kind="unit_echo", status="running", heartbeat_age_s=60, worker="dead@host", pid=1)
    fresh = make_job(kind="unit_echo", request={"n": 2}, status="running", heartbeat_age_s=0.5,
                     worker="alive@host", pid=1)
    assert job_worker.recover_once(app) == [stale]
    with app.app_context():
        assert _job(stale).status == "failed" and _job(stale).error == "interrupted"
        assert _job(fresh).status == "running"  # another host's pid is not checked: the heartbeat decides


def test_the_recovery_loop_runs_in_the_background(app, make_job):
    stale = make_job(kind="unit_echo", status="running", heartbeat_age_s=60, worker="dead@host")
    loop = job_worker.RecoveryLoop(app)
    assert loop.interval == pytest.approx(5.0 / 3)  # JOB_HEARTBEAT_TIMEOUT_S / 3
    loop.interval = 0.05
    loop.start()
    try:
        deadline = time.monotonic() + 10
        with app.app_context():
            while _job(stale).status == "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert _job(stale).error == "interrupted"
    finally:
        loop.stop()


def test_worker_environment_uses_every_core_and_a_metrics_folder_of_its_own(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"old")
    environ = {"OMP_NUM_THREADS": "1", "JOB_THREADS": "2", "JOB_BACKEND": "local",
               "WORKER_METRICS_DIR": str(folder)}
    assert job_worker.prepare_environment(environ) == str(folder)
    assert environ["OMP_NUM_THREADS"] == environ["OPENBLAS_NUM_THREADS"] == "2"
    assert environ["JOB_BACKEND"] == "celery" and environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder)
    assert list(folder.iterdir()) == []  # counters start from zero
    environ = {"WORKER_METRICS_PORT": "0"}
    assert job_worker.prepare_environment(environ) is None
    assert "PROMETHEUS_MULTIPROC_DIR" not in environ
    assert environ["OMP_NUM_THREADS"] == str(os.cpu_count() or 1)


def test_retry_from_the_page_publishes_a_new_job(app, make_job, fake, client, login):
    from tests.conftest import csrf_token_from

    lost = make_job(kind="training", status="failed", error="interrupted",
                    request={"dataset_id": 1, "target": "y", "time_budget_s": 5})
    login()
    token = csrf_token_from(client.get("/models").text)
    r = client.post(f"/jobs/{lost}/retry", data={"csrf_token": token})
    assert r.status_code in (200, 303), r.text
    with app.app_context():
        again = db.session.scalar(db.select(Job).where(Job.retry_of_id == lost))
        assert again.status == "queued" and again.request == _job(lost).request
        again_id = again.id
    assert [m["args"] for m in fake.sent] == [[again_id]]
    assert str(again_id) in (r.headers.get("Location", "") + r.headers.get("HX-Redirect", ""))
