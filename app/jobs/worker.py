"""What a Celery worker runs (JOB_BACKEND=celery), kept free of start-up side effects.

app.jobs.celery_app builds the worker from these pieces: the task body
(`run_job`), the recovery loop that fails jobs whose worker died, and the
Prometheus endpoint of the worker (WORKER_METRICS_PORT, multiprocess mode:
every pool process writes its own files, the main process serves their sum).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from flask import Flask

from app.extensions import db
from app.jobs import store
from app.jobs.local import THREAD_VARIABLES
from app.jobs.runner import JobTerminated, execute, hostname
from app.jobs.settings import job_threads, setting, use_job_threads
from app.models.job import CANCELLED

log = logging.getLogger(__name__)

_counters: dict = {}


def prepare_environment(environ=os.environ) -> str | None:
    """Before numpy or prometheus_client are imported: job threads and the metrics folder.

    A job uses every core (JOB_THREADS), whatever OMP_NUM_THREADS the web processes
    were given. With WORKER_METRICS_PORT > 0, PROMETHEUS_MULTIPROC_DIR points at a
    folder of this worker only (WORKER_METRICS_DIR, else a fresh temporary one),
    emptied now so counters start from zero; its path, or None.
    """
    threads = str(job_threads(environ))
    for name in THREAD_VARIABLES:
        environ[name] = threads
    environ["JOB_BACKEND"] = "celery"  # a worker is the celery backend, whatever the web's settings
    if setting(environ, "WORKER_METRICS_PORT") <= 0:
        return None
    folder = environ.get("WORKER_METRICS_DIR") or tempfile.mkdtemp(prefix="csv-analyzer-worker-metrics-")
    shutil.rmtree(folder, ignore_errors=True)
    Path(folder).mkdir(parents=True, exist_ok=True)
    environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder


def preload(app: Flask) -> list[str]:
    """Import the job modules once in the main process, so pool processes fork with them."""
    loaded = []
    for name in app.config.get("JOB_PRELOAD_MODULES", ()):
        try:
            importlib.import_module(name)
            loaded.append(name)
        except ImportError:
            log.warning("worker: could not preload %s", name, exc_info=True)
    return loaded


def worker_jobs_counter():
    """csv_analyzer_worker_jobs_total{kind,status}: jobs this worker ran, by outcome."""
    if "jobs" not in _counters:
        from prometheus_client import Counter

        _counters["jobs"] = Counter("csv_analyzer_worker_jobs_total", "Jobs run by Celery workers",
                                    ["kind", "status"], registry=None)
    return _counters["jobs"]


def _terminate(_signum, _frame):
    raise JobTerminated()


def _hard_exit() -> None:
    """A job past its hard deadline or ignoring a cancel: end the pool process (Celery replaces it)."""
    logging.shutdown()
    os._exit(75)


def run_job(app: Flask, job_id: int, worker: str | None = None) -> str | None:
    """The task body: claim the queued job, run it to its end; its final status.

    None when the job was not queued any more (cancelled, or a second delivery of a
    message whose job already ran or was failed "interrupted"): nothing runs twice.
    A SIGTERM (a revoke with terminate) ends the job as cancelled.
    """
    worker = worker or hostname()
    with app.app_context():
        try:
            if not store.claim(db.engine, job_id, worker):
                log.info("job %s: not queued any more; this delivery does nothing", job_id)
                return None
            in_main_thread = threading.current_thread() is threading.main_thread()
            previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
            try:
                use_job_threads(app.config)
                status = execute(app, job_id, worker=worker, on_overrun=_hard_exit, on_abandoned=_hard_exit)
            except JobTerminated:
                status = CANCELLED
            finally:
                if in_main_thread:
                    signal.signal(signal.SIGTERM, previous)
            row = store.read(db.engine, job_id) or {}
            with contextlib.suppress(Exception):
                worker_jobs_counter().labels(kind=row.get("kind", "?"), status=status or "none").inc()
            return status
        finally:
            db.session.remove()


def recover_interval_s(config) -> float:
    interval = setting(config, "JOB_RECOVER_INTERVAL_S")
    return interval if interval > 0 else max(1.0, setting(config, "JOB_HEARTBEAT_TIMEOUT_S") / 3)


def recover_once(app: Flask) -> list[int]:
    """Fail "interrupted" the running jobs whose heartbeat stopped (any worker's)."""
    from app.jobs.service import recover_stale_jobs

    with app.app_context():
        try:
            return recover_stale_jobs(db.engine)
        finally:
            db.session.remove()


class RecoveryLoop:
    """A thread of the worker's main process: recover_once every recover_interval_s.

    Every worker runs one; the conditional update lets exactly one of them fail a job.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.interval = recover_interval_s(app.config)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="job-recovery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                recover_once(self.app)
            except Exception:
                log.warning("worker: stale-job recovery failed (retried)", exc_info=True)


def serve_metrics(config) -> int | None:
    """Serve the merged metrics of this worker's processes on WORKER_METRICS_PORT; the port."""
    port = setting(config, "WORKER_METRICS_PORT")
    if port <= 0 or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(port, addr=setting(config, "WORKER_METRICS_HOST"), registry=registry)
    log.info("worker: Prometheus metrics on port %s", port)
    return port


def pool_process_exited(pid: int) -> None:
    """Drop a finished pool process's live gauges from the merged metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        with contextlib.suppress(Exception):
            multiprocess.mark_process_dead(pid)
