"""gunicorn settings: bind from HOST/PORT, Prometheus multiprocess directory wiped at start."""

import os
import shutil

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))
graceful_timeout = 30
accesslog = None  # the app logs each request as JSON with its request id
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# OpenMP threads stall single-row predictions under load; web processes use one.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Arrow's allocator (mimalloc) reserves 1 GiB arenas and keeps the segments an upload freed
# in them; without arenas they go back to the kernel: a 160 MB upload peaked at 3.54x the
# file instead of 3.76-3.97x, for ~4% of its time (bench/README.md). Read when a worker
# first loads pyarrow, after this file.
os.environ.setdefault("MIMALLOC_ARENA_RESERVE", "0")

# Set before prometheus_client is imported: it picks file-backed values at import time.
_multiproc_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(os.path.abspath(os.environ.get("INSTANCE_DIR", "instance")), "prometheus"),
)

from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics  # noqa: E402


def on_starting(server):
    """Wipe the metric files of a previous run, so counters start from zero."""
    shutil.rmtree(_multiproc_dir, ignore_errors=True)
    os.makedirs(_multiproc_dir, exist_ok=True)


def child_exit(server, worker):
    GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)


def post_worker_init(worker):
    """Boot the local job backend's forkserver now: the first job would otherwise wait for it.

    Only for JOB_BACKEND=local: with Celery the web starts no job processes, so a forkserver
    would be an idle process (with the app's modules loaded) per worker.
    """
    backend = getattr(worker.wsgi, "extensions", {}).get("jobs")
    if getattr(backend, "name", None) == "local":
        backend.warm_up()
