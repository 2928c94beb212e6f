"""Scale-out: the app on PostgreSQL and Redis with two Celery worker processes.

Six training jobs submitted at once through the API all succeed on the workers;
then one worker is killed (SIGKILL to its whole process group, as when its
machine dies) during a job: that job ends failed "interrupted" by the database
heartbeat, the other worker's job is unaffected, and the lost job can be retried
and cancelled through the API. Runs when TEST_POSTGRES_URL is set (CI: PostgreSQL
and Redis are running, so an unreachable service fails the test).
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PENGUINS = (ROOT / "app" / "sample_data" / "penguins.csv").read_bytes()
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("TEST_CELERY_REDIS_URL", "redis://127.0.0.1:6379/13")  # a db of its own
FINAL = {"succeeded", "failed", "cancelled"}
FAST_JOBS = {  # short heartbeats so a dead worker's job is failed within seconds
    "JOB_HEARTBEAT_INTERVAL_S": "1", "JOB_HEARTBEAT_TIMEOUT_S": "8", "JOB_RECOVER_INTERVAL_S": "1",
    "JOB_PROGRESS_MIN_INTERVAL_S": "0.5", "JOB_CANCEL_GRACE_S": "3", "JOB_KILL_GRACE_S": "60",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ADMIN_URL, reason="TEST_POSTGRES_URL is not set (PostgreSQL + Redis scale-out test)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def database_url():
    import psycopg

    name = f"csva_celery_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    yield url
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_url():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()  # unreachable Redis fails here: CI runs it
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    return tmp_path_factory.mktemp("celery-instance")


@pytest.fixture(scope="module")
def worker_env(instance, database_url, redis_url):
    env = {**os.environ, "INSTANCE_DIR": str(instance), "DATABASE_URL": database_url,
           "CELERY_BROKER_URL": redis_url, "JOB_BACKEND": "celery", "RATELIMIT_ENABLED": "false",
           "JOB_THREADS": "1", "SECRET_KEY": "celery-test-secret-key-long-enough-for-the-app", **FAST_JOBS}
    for name in ("PROMETHEUS_MULTIPROC_DIR", "MLFLOW_TRACKING_URI", "DATA_DIR", "OMP_NUM_THREADS"):
        env.pop(name, None)
    return env


class Worker:
    def __init__(self, name: str, env: dict, log: Path):
        self.name = name
        self.metrics_port = free_port()
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "app.jobs.celery_app", "worker", "--loglevel", "INFO",
                 "--concurrency", "1", "--prefetch-multiplier", "1", "--hostname", name, "--without-gossip"],
                cwd=ROOT, env={**env, "WORKER_METRICS_PORT": str(self.metrics_port),
                               "WORKER_METRICS_HOST": "127.0.0.1"},
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,  # its own process group
            )

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.log.read_text()[-4000:]}"
            if "ready." in self.log.read_text():
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.name} not ready:\n{self.log.read_text()[-4000:]}")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return response.read().decode()

    def kill(self) -> None:
        """SIGKILL the main process and its pool processes, as when the machine dies."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def workers(worker_env, instance):
    """Started first: a cold worker takes a while to import; the web migrates meanwhile."""
    started = [Worker(f"w{i}@csv-analyzer-test", worker_env, instance / f"worker{i}.log") for i in (1, 2)]
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture(scope="module")
def web(instance, database_url, redis_url):
    """The web side in this process: the Flask app with JOB_BACKEND=celery (same instance, database).

    It migrates the database and creates the MLflow store first, as `make migrate` does
    before `make worker` starts.
    """
    from flask_migrate import upgrade

    from app import create_app
    from app.blueprints.training.tracking import make_tracker
    from config import TestConfig, normalise_database_url

    config = TestConfig(instance)
    config.SQLALCHEMY_DATABASE_URI = normalise_database_url(database_url)
    config.JOB_BACKEND = "celery"
    config.CELERY_BROKER_URL = redis_url
    for key, value in FAST_JOBS.items():
        setattr(config, key, float(value))
    app = create_app(config)
    with app.app_context():
        upgrade()
        make_tracker(app.config)
    yield app
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def api(web):
    from app.blueprints.auth import operations as ops
    from app.extensions import db
    from app.models import User

    with web.app_context():
        user = ops.register_user("celery@example.com", "correct horse battery")
        db.session.commit()
        _, secret = ops.create_token(db.session.get(User, user.id), "tests", None)
        db.session.commit()
    return web.test_client(), {"Authorization": f"Bearer {secret}"}


def job(client, headers, job_id) -> dict:
    r = client.get(f"/api/v1/training-jobs/{job_id}", headers=headers)
    assert r.status_code == 200, r.json
    return r.json


def wait_for(client, headers, job_ids, statuses=FINAL, timeout=150.0) -> dict[int, dict]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = {job_id: job(client, headers, job_id) for job_id in job_ids}
        if all(j["status"] in statuses for j in jobs.values()):
            return jobs
        if time.monotonic() > deadline:
            raise AssertionError({i: (j["status"], j["error"], j["progress"]) for i, j in jobs.items()})
        time.sleep(0.5)


def submit(client, headers, dataset_id, target, **extra) -> int:
    body = {"dataset_id": dataset_id, "target": target, "time_budget_s": 5, "max_candidates": 3,
            "models": ["decision_tree"], **extra}
    r = client.post("/api/v1/training-jobs", headers=headers, json=body)
    assert r.status_code == 202, r.json
    return r.json["id"]


def succeeded_on(worker: Worker) -> float:
    """csv_analyzer_worker_jobs_total{kind="training",status="succeeded"} on a worker's metrics port."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(sample.value for family in text_string_to_metric_families(worker.metrics())
               for sample in family.samples
               if sample.name == "csv_analyzer_worker_jobs_total"
               and sample.labels == {"kind": "training", "status": "succeeded"})


def running_on(database_url: str, job_id: int) -> str | None:
    """The worker recorded by a running job that has started (the API does not show it)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT status, worker, started_at FROM jobs WHERE id = %s", (job_id,)).fetchone()
    return row[1] if row and row[0] == "running" and row[2] is not None else None


def test_two_workers_run_six_jobs_and_survive_a_killed_worker(workers, api, database_url):
    client, headers = api
    r = client.post("/api/v1/datasets", headers=headers, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(PENGUINS), "penguins.csv")})
    assert r.status_code == 201, r.json
    dataset_id = r.json["id"]
    deadline = time.monotonic() + 150  # a cold worker imports pandas, scikit-learn and MLflow
    for worker in workers:
        worker.wait_ready(deadline)

    targets = ["species", "island", "sex", "bill_length_mm", "flipper_length_mm", "body_mass_g"]
    ids = [submit(client, headers, dataset_id, target) for target in targets]
    done = wait_for(client, headers, ids)
    assert {j["status"] for j in done.values()} == {"succeeded"}, {i: j["error"] for i, j in done.items()}
    assert all(j["best_model_id"] and j["progress"]["fraction"] == 1.0 for j in done.values())
    import psycopg

    with psycopg.connect(database_url) as conn:
        ran_on = {row[0] for row in conn.execute("SELECT worker FROM jobs WHERE id = ANY(%s)", (ids,))}
    assert ran_on == {w.name for w in workers}, ran_on  # both workers took jobs
    # Each worker serves the metrics its pool processes wrote (multiprocess mode) on its own port.
    assert sum(succeeded_on(w) for w in workers) == len(ids)

    # One long job and one short one: each worker takes one; the long one's worker dies.
    long_id = submit(client, headers, dataset_id, "bill_depth_mm", time_budget_s=40, max_candidates=500,
                     models=["random_forest", "decision_tree"])
    short_id = submit(client, headers, dataset_id, "species", time_budget_s=6)
    deadline = time.monotonic() + 60
    while (victim_name := running_on(database_url, long_id)) is None \
            or "elapsed_s" not in (seen := job(client, headers, long_id))["progress"]:
        assert time.monotonic() < deadline, job(client, headers, long_id)
        time.sleep(0.3)
    assert seen["status"] == "running"  # the worker's progress writes show through the API
    victim = next(w for w in workers if w.name == victim_name)
    survivor = next(w for w in workers if w is not victim)
    victim.kill()

    lost = wait_for(client, headers, [long_id], timeout=60)[long_id]
    assert lost["status"] == "failed" and lost["error"] == "interrupted", lost
    other = wait_for(client, headers, [short_id], timeout=90)[short_id]
    assert other["status"] == "succeeded", other
    assert survivor.proc.poll() is None

    # The lost job is retried through the API on the surviving worker, then cancelled there.
    r = client.post(f"/api/v1/training-jobs/{long_id}/retry", headers=headers)
    assert r.status_code == 202, r.json
    retry_id = r.json["id"]
    deadline = time.monotonic() + 60
    while running_on(database_url, retry_id) != survivor.name:
        assert time.monotonic() < deadline, job(client, headers, retry_id)
        time.sleep(0.3)
    r = client.post(f"/api/v1/training-jobs/{retry_id}/cancel", headers=headers)
    assert r.status_code == 202, r.json
    assert wait_for(client, headers, [retry_id], timeout=30)[retry_id]["status"] == "cancelled"
    # The worker stopped the job (revoke or heartbeat) and takes the next one.
    final_id = submit(client, headers, dataset_id, "island", time_budget_s=6)
    assert wait_for(client, headers, [final_id], timeout=90)[final_id]["status"] == "succeeded"
    assert survivor.proc.poll() is None
