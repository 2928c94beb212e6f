"""Job settings: read from the app config, else the environment, else a default.

config.py does not list them (yet), so a deployment sets them as environment
variables and the tests as config overrides.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DEFAULTS: dict[str, object] = {
    "JOB_BACKEND": "local",
    "JOB_MAX_CONCURRENT": 1,  # running jobs at once (2 cores: one training uses both)
    "JOB_HEARTBEAT_INTERVAL_S": 2.0,  # a running job writes its heartbeat this often
    "JOB_HEARTBEAT_TIMEOUT_S": 30.0,  # no heartbeat for this long: failed "interrupted"
    "JOB_PROGRESS_MIN_INTERVAL_S": 0.5,  # progress writes are throttled to one per this
    "JOB_KILL_GRACE_S": -1.0,  # past the deadline before a hard kill; < 0: 10 % of budget + 5 s
    "JOB_CANCEL_GRACE_S": 3.0,  # SIGTERM, then SIGKILL after this
    "JOB_THREADS": 0,  # OpenMP/BLAS threads of a job process; 0: all cores
    "JOB_START_METHOD": "forkserver",  # multiprocessing context of the local backend
    "JOB_RECOVER_ON_START": True,  # fail stale jobs and start queued ones at app start
    # JOB_BACKEND=celery (scale-out): the broker, the queue, and what a worker runs beside its jobs
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "CELERY_QUEUE": "jobs",
    # Redis redelivers an unacknowledged message after this; the job row, not this, decides
    # that a lost job failed (its heartbeat), so it only has to exceed the longest job.
    "CELERY_VISIBILITY_TIMEOUT_S": 12 * 3600,
    "CELERY_MAX_TASKS_PER_CHILD": 20,  # a pool process is replaced after this many jobs (memory)
    "JOB_RECOVER_INTERVAL_S": 0.0,  # a worker fails stale jobs this often; 0: JOB_HEARTBEAT_TIMEOUT_S / 3
    "WORKER_METRICS_PORT": 9101,  # a worker serves Prometheus metrics here; 0: none
    "WORKER_METRICS_HOST": "0.0.0.0",  # noqa: S104 (scraped by Prometheus from another host)
}


def setting(config: Mapping, name: str):
    """The value of `name`, typed like its default."""
    default = DEFAULTS[name]
    value = config.get(name)
    if value is None:
        value = os.environ.get(name)
    if value is None or value == "":
        return default
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return str(value)


def kill_grace_s(config: Mapping, time_budget_s: float | None) -> float:
    """How long past its deadline a job may take to stop before it is ended."""
    grace = setting(config, "JOB_KILL_GRACE_S")
    if grace >= 0:
        return grace
    return 0.1 * (time_budget_s or 0.0) + 5.0


def job_threads(config: Mapping) -> int:
    threads = setting(config, "JOB_THREADS")
    return threads if threads > 0 else (os.cpu_count() or 1)


def use_job_threads(config: Mapping) -> int:
    """Size a job process's thread pools to JOB_THREADS: OpenMP/BLAS (libraries loaded while
    the process still had the web's one thread) and Arrow's, unless ARROW_THREADS sets that
    (create_app gave Arrow every core, which a JOB_THREADS limit must also bound)."""
    import pyarrow as pa
    from threadpoolctl import threadpool_limits

    threads = job_threads(config)
    threadpool_limits(threads)
    arrow = int(config.get("ARROW_THREADS") or 0)
    pa.set_cpu_count(arrow if arrow > 0 else threads)
    return threads
