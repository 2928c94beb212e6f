"""Load: N concurrent simulated users through the whole journey, over the REST API on loopback.

Each user registers and takes a token, uploads a generated CSV (LOAD_ROWS rows), fetches the
profile, starts a training job with a small budget (LOAD_BUDGET_S, families LOAD_FAMILIES),
polls the job to its end, then sends LOAD_PREDICTS single-row predictions and one batch
prediction of LOAD_BATCH_ROWS rows. All users start together; every request is timed.

Two deployments in the same run, each with a fresh instance, for each N of LOAD_USERS:
  embedded   `make run`: gunicorn (app/gunicorn_conf.py, OMP_NUM_THREADS=1), SQLite,
             JOB_BACKEND=local (jobs in the web's job processes, JOB_MAX_CONCURRENT=1)
  scaleout   the same gunicorn + LOAD_WORKERS Celery workers started as `make worker` does,
             JOB_BACKEND=celery on a flushed Redis db (LOAD_BROKER_DB), PostgreSQL (a fresh
             database, migrated, dropped at the end), rate limits in Redis (LOAD_LIMITS_DB)
Rate limits stay on, raised for the load through the RATELIMIT_* settings.

Reports per deployment, N and step: requests, throughput, p50/p95 latency, errors (must be 0;
each error is printed with its status and body), and the journey time per user. Exit status 1
when any error happened. Server and worker logs: bench/.data/load/.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "bench" / ".data" / "load"
env = os.environ.get
USERS = [int(n) for n in env("LOAD_USERS", "4,8").split(",") if n.strip()]
DEPLOYMENTS = [d.strip() for d in env("LOAD_DEPLOYMENTS", "embedded,scaleout").split(",") if d.strip()]
ROWS = int(env("LOAD_ROWS", "3000"))
BUDGET_S = int(env("LOAD_BUDGET_S", "10"))
FAMILIES = [f.strip() for f in env("LOAD_FAMILIES", "logistic_regression,decision_tree").split(",") if f.strip()]
PREDICTS = int(env("LOAD_PREDICTS", "20"))
BATCH_ROWS = int(env("LOAD_BATCH_ROWS", "1000"))
WORKERS = int(env("LOAD_WORKERS", "2"))
POLL_S = float(env("LOAD_POLL_S", "0.5"))
JOB_TIMEOUT_S = float(env("LOAD_JOB_TIMEOUT_S", "300"))
POSTGRES_URL = env("LOAD_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = env("LOAD_REDIS_URL", "redis://127.0.0.1:6379")
BROKER_DB = int(env("LOAD_BROKER_DB", "11"))
LIMITS_DB = int(env("LOAD_LIMITS_DB", "12"))
LIMIT = env("LOAD_RATELIMIT", "100000/hour")  # every RATELIMIT_* setting, raised for the load
# Past its deadline before a job is ended. The default (10 % of the budget + 5 s) ends 5-10 s jobs
# in "Saving the models" when other work loads the machine (load average 8-12 on 2 cores); the
# Celery integration test uses 60 too. "default" keeps the app's default.
KILL_GRACE_S = env("LOAD_KILL_GRACE_S", "60")
TARGET = "churned"
STEPS = ["register", "token", "upload", "profile", "train: submit", "train: poll", "train: job (submit to end)",
         "train: job (started to end)",
         "predict (1 row)", f"batch predict ({BATCH_ROWS} rows)"]
FINAL = {"succeeded", "failed", "cancelled"}


# --- data -------------------------------------------------------------------------------------

def make_rows(n: int, seed: int) -> list[dict]:
    """A churn-like table: numbers, categories, a few missing values, a target that depends on them."""
    rng = np.random.default_rng(seed)
    cities = np.array(["Paris", "Lyon", "Lille", "Nantes", "Nice", "Rennes"])
    plans = np.array(["basic", "plus", "pro"])
    age = rng.integers(18, 80, n)
    tenure = rng.integers(0, 120, n)
    spend = np.round(rng.gamma(2.0, 30.0, n), 2)
    calls = rng.poisson(2.0, n)
    city = cities[rng.integers(0, len(cities), n)]
    plan = plans[rng.choice(3, n, p=[0.5, 0.3, 0.2])]
    logit = 1.2 - 0.03 * tenure + 0.35 * calls - 0.01 * spend + 0.6 * (plan == "basic") - 0.005 * age
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    missing = rng.random(n) < 0.03
    rows = []
    for i in range(n):
        rows.append({"customer_id": f"C{seed:02d}{i:06d}", "age": int(age[i]), "tenure_months": int(tenure[i]),
                     "monthly_spend": None if missing[i] else float(spend[i]), "support_calls": int(calls[i]),
                     "city": str(city[i]), "plan": str(plan[i]), TARGET: "yes" if churned[i] else "no"})
    return rows


def to_csv(rows: list[dict], drop: tuple[str, ...] = ()) -> bytes:
    out = io.StringIO()
    names = [k for k in rows[0] if k not in drop]
    writer = csv.DictWriter(out, names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


# --- measuring ----------------------------------------------------------------------------------

class RequestFailed(Exception):
    pass


@dataclass
class Record:
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # step -> (start, end)
    errors: list[str] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    journeys: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, step: str, start: float, end: float) -> None:
        with self.lock:
            self.samples.setdefault(step, []).append((start, end))

    def error(self, step: str, text: str) -> None:
        with self.lock:
            self.errors.append(f"{step}: {text}")
        print(f"  ERROR {step}: {text}", flush=True)


class User:
    def __init__(self, base: str, name: str, record: Record):
        self.base = base
        self.name = name
        self.record = record
        self.http = requests.Session()

    def call(self, step: str, method: str, path: str, expect: int, **kwargs) -> requests.Response:
        start = time.perf_counter()
        try:
            try:
                r = self.http.request(method, self.base + path, timeout=300, **kwargs)
            except requests.ConnectionError as exc:
                if method != "GET":
                    raise
                # gunicorn closed the idle keep-alive connection as this request went out on it
                # (a race of HTTP keep-alive): a client retries an idempotent request once, as
                # browsers do (RFC 9110, 9.2.2). Counted and printed, not hidden.
                with self.record.lock:
                    self.record.retries.append(f"{step}: {self.name} {method} {path}: {exc!r}")
                print(f"  RETRIED {step}: {self.name} {method} {path}: {exc!r}", flush=True)
                r = self.http.request(method, self.base + path, timeout=300, **kwargs)
        except requests.RequestException as exc:
            self.record.error(step, f"{self.name} {method} {path}: {exc!r}")
            raise RequestFailed from exc
        end = time.perf_counter()
        if r.status_code != expect:
            self.record.error(step, f"{self.name} {method} {path}: status {r.status_code}, body {r.text[:1000]}")
            raise RequestFailed
        self.record.add(step, start, end)
        return r

    def journey(self, upload: bytes, batch: bytes, predict_rows: list[dict], seed: int) -> None:
        start = time.perf_counter()
        creds = {"email": f"{self.name}@example.com", "password": "load test password"}
        self.call("register", "POST", "/api/v1/auth/register", 201, json=creds)
        token = self.call("token", "POST", "/api/v1/auth/tokens", 201, json={**creds, "name": "load"}).json()["token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        dataset = self.call("upload", "POST", "/api/v1/datasets", 201,
                            files={"file": ("customers.csv", upload, "text/csv")}).json()
        self.call("profile", "GET", f"/api/v1/datasets/{dataset['id']}/profile", 200)
        submitted = time.perf_counter()
        job = self.call("train: submit", "POST", "/api/v1/training-jobs", 202, json={
            "dataset_id": dataset["id"], "target": TARGET, "time_budget_s": BUDGET_S, "models": FAMILIES,
            "exclude_columns": ["customer_id"], "seed": seed}).json()
        while job["status"] not in FINAL:
            if time.perf_counter() - submitted > JOB_TIMEOUT_S:
                self.record.error("train: job (submit to end)", f"{self.name} job {job['id']} still "
                                  f"{job['status']} after {JOB_TIMEOUT_S:.0f} s: {job.get('progress')}")
                raise RequestFailed
            time.sleep(POLL_S)
            job = self.call("train: poll", "GET", f"/api/v1/training-jobs/{job['id']}", 200).json()
        if job["status"] != "succeeded" or not job.get("best_model_id"):
            self.record.error("train: job (submit to end)", f"{self.name} job {job['id']} ended "
                              f"{job['status']}: {job.get('error')} (submitted {job.get('created_at')}, "
                              f"started {job.get('started_at')}, ended {job.get('finished_at')}, "
                              f"progress {job.get('progress')}, {len(job.get('leaderboard') or [])} candidates)")
            raise RequestFailed
        self.record.add("train: job (submit to end)", submitted, time.perf_counter())
        run_s = (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()
        self.record.add("train: job (started to end)", 0.0, run_s)
        model = job["best_model_id"]
        for row in predict_rows:
            self.call("predict (1 row)", "POST", f"/api/v1/models/{model}/predict", 200, json={"rows": [row]})
        self.call(f"batch predict ({BATCH_ROWS} rows)", "POST", f"/api/v1/models/{model}/batch-predictions", 200,
                  files={"file": ("score.csv", batch, "text/csv")})
        with self.record.lock:
            self.record.journeys.append(time.perf_counter() - start)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def run_users(base: str, n: int, tag: str) -> tuple[Record, float]:
    record = Record()
    users, threads = [], []
    for i in range(n):
        rows = make_rows(ROWS, seed=i)
        predict_rows = [{k: v for k, v in row.items() if k not in (TARGET, "customer_id")}
                        for row in make_rows(PREDICTS, seed=100 + i)]
        batch = to_csv(make_rows(BATCH_ROWS, seed=200 + i), drop=(TARGET,))
        user = User(base, f"load-{tag}-{n}-{i}", record)
        users.append(user)
        threads.append(threading.Thread(target=guarded, args=(user, to_csv(rows), batch, predict_rows, i)))
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return record, time.perf_counter() - start


def guarded(user: User, upload: bytes, batch: bytes, predict_rows: list[dict], seed: int) -> None:
    try:
        user.journey(upload, batch, predict_rows, seed)
    except RequestFailed:
        pass  # already recorded and printed
    except Exception as exc:  # a bench bug counts as an error too
        user.record.error("journey", f"{user.name}: {exc!r}")


def report(deployment: str, n: int, record: Record, wall: float, load: tuple[float, float]) -> list[str]:
    lines = [f"### {deployment}, {n} users: {len(record.journeys)}/{n} journeys in {wall:.1f} s "
             f"({len(record.journeys) / wall * 60:.1f} journeys/min); journey time per user "
             f"p50 {percentile(record.journeys, 0.5):.1f} s, max {max(record.journeys):.1f} s; "
             f"errors {len(record.errors)}; GET retried after a keep-alive reset {len(record.retries)}; load average {load[0]:.1f} before, {load[1]:.1f} after"
             if record.journeys else f"### {deployment}, {n} users: no journey finished; errors {len(record.errors)}",
             "", "| step | requests | throughput (req/s) | p50 | p95 | errors |", "|---|---|---|---|---|---|"]
    for step in STEPS:
        samples = record.samples.get(step, [])
        errors = sum(1 for e in record.errors if e.startswith(step + ":"))
        if not samples:
            lines.append(f"| {step} | 0 | | | | {errors} |")
            continue
        span = max(e for _, e in samples) - min(s for s, _ in samples)
        durations = [e - s for s, e in samples]
        rate = f"{len(samples) / span:.{1 if len(samples) >= span else 2}f}" if span > 0 else ""
        if step.startswith("train: job"):
            rate = f"{len(samples) / span * 60:.1f}/min" if span > 0 and "submit" in step else ""
        lines.append(f"| {step} | {len(samples)} | {rate} | {fmt(percentile(durations, 0.5))} | "
                     f"{fmt(percentile(durations, 0.95))} | {errors} |")
    requests_only = [(a, b) for step, got in record.samples.items() if not step.startswith("train: job")
                     for a, b in got]
    if requests_only:
        span = max(b for _, b in requests_only) - min(a for a, _ in requests_only)
        durations = [b - a for a, b in requests_only]
        lines.append(f"| all HTTP requests | {len(durations)} | {len(durations) / span:.1f} | "
                     f"{fmt(percentile(durations, 0.5))} | {fmt(percentile(durations, 0.95))} | {len(record.errors)} |")
    other = [e for e in record.errors if not any(e.startswith(s + ":") for s in STEPS)]
    if other:
        lines.append(f"| other | | | | | {len(other)} |")
    return lines


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


# --- deployments --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(instance: Path, port: int) -> dict:
    out = {**os.environ, "INSTANCE_DIR": str(instance), "PORT": str(port), "HOST": "127.0.0.1",
           "FLASK_APP": "wsgi", "JOB_BACKEND": "local", "RATELIMIT_ENABLED": "true"}
    for name in ("PROMETHEUS_MULTIPROC_DIR", "DATABASE_URL", "MLFLOW_TRACKING_URI", "DATA_DIR", "CELERY_BROKER_URL",
                 "RATELIMIT_STORAGE_URI", "OMP_NUM_THREADS", "APP_ENV"):
        out.pop(name, None)
    for name in ("LOGIN", "REGISTER", "TOKENS", "UPLOADS", "TRAINING"):
        out[f"RATELIMIT_{name}"] = LIMIT
    if KILL_GRACE_S != "default":
        out["JOB_KILL_GRACE_S"] = KILL_GRACE_S
    else:
        out.pop("JOB_KILL_GRACE_S", None)
    return out


def flask(args: list[str], environ: dict) -> None:
    done = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def wait_http(url: str, proc: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{log.name}: exited\n{log.read_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).ok:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen, group: bool = False) -> None:
    if proc.poll() is not None:
        return
    if group:
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.terminate()
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()


@contextlib.contextmanager
def gunicorn(environ: dict, name: str):
    log = LOGS / f"{name}-web.log"
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "app/gunicorn_conf.py", "wsgi:app"],
                            cwd=ROOT, env={**environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                            stderr=log.open("w"))
    base = f"http://127.0.0.1:{environ['PORT']}"
    try:
        wait_http(base + "/readyz", proc, log)
        yield base
    finally:
        stop(proc)


@contextlib.contextmanager
def embedded(instance: Path):
    environ = base_env(instance, free_port())
    flask(["db", "upgrade"], environ)
    flask(["init-tracking"], environ)
    with gunicorn(environ, "embedded") as base:
        yield base


@contextlib.contextmanager
def postgres_database():
    import psycopg

    name = f"csva_load_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def flushed_redis(db: int):
    import redis

    url = f"{REDIS_URL}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@contextlib.contextmanager
def celery_workers(environ: dict, count: int):
    """Start `count` workers as `make worker` does; they import while the web starts (see wait_workers)."""
    procs, logs = [], []
    worker_env = {k: v for k, v in environ.items() if k != "OMP_NUM_THREADS"}  # a job uses every core
    try:
        for i in range(count):
            log = LOGS / f"scaleout-worker{i + 1}.log"
            logs.append(log)
            with log.open("w") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "app.jobs.celery_app", "worker", "--loglevel=INFO",
                     "--concurrency", "1", "--prefetch-multiplier", "1", "-O", "fair",
                     "--hostname", f"load{i + 1}@%h", "--without-gossip"],
                    cwd=ROOT, env={**worker_env, "WORKER_METRICS_PORT": str(free_port()),
                                   "WORKER_METRICS_HOST": "127.0.0.1"},
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        yield procs, logs
    finally:
        for proc in procs:
            stop(proc, group=True)


def wait_workers(procs: list[subprocess.Popen], logs: list[Path], seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    for proc, log in zip(procs, logs, strict=True):
        while "ready." not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{log.name}: not ready\n{log.read_text()[-3000:]}")
            time.sleep(0.5)


@contextlib.contextmanager
def scaleout(instance: Path):
    with postgres_database() as database, flushed_redis(BROKER_DB) as broker, flushed_redis(LIMITS_DB) as limits:
        environ = {**base_env(instance, free_port()), "DATABASE_URL": database, "JOB_BACKEND": "celery",
                   "CELERY_BROKER_URL": broker, "RATELIMIT_STORAGE_URI": limits}
        flask(["db", "upgrade"], environ)  # also writes the instance's secret key before the others start
        with celery_workers(environ, WORKERS) as (procs, logs):
            flask(["init-tracking"], environ)
            with gunicorn(environ, "scaleout") as base:
                wait_workers(procs, logs)
                yield base


SETUPS = {
    "embedded": ("embedded: gunicorn + SQLite + JOB_BACKEND=local", embedded),
    "scaleout": (f"scale-out: gunicorn + {WORKERS} Celery workers + PostgreSQL + Redis", scaleout),
}


def main() -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    print(f"journey: register, token, upload {ROWS} x 8 CSV, profile, train ({BUDGET_S} s, {', '.join(FAMILIES)}), "
          f"poll every {POLL_S} s, {PREDICTS} single-row predictions, batch of {BATCH_ROWS} rows; "
          f"{os.cpu_count()} cores", flush=True)
    out, errors = [], 0
    for key in DEPLOYMENTS:
        title, setup = SETUPS[key]
        with tempfile.TemporaryDirectory(prefix=f"csva-load-{key}-") as instance:
            started = time.perf_counter()
            with setup(Path(instance)) as base:
                print(f"== {title}: ready in {time.perf_counter() - started:.1f} s", flush=True)
                for n in USERS:
                    before = os.getloadavg()[0]
                    record, wall = run_users(base, n, f"{key}-{uuid.uuid4().hex[:6]}")
                    lines = report(title, n, record, wall, (before, os.getloadavg()[0]))
                    print("\n".join(lines) + "\n", flush=True)
                    out += [*lines, ""]
                    errors += len(record.errors)
    (LOGS / "results.md").write_text("\n".join(out))
    print(f"total errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
