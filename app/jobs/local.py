"""The `local` backend: each job runs in a child process of the server.

Children come from a "forkserver" (or "spawn") context, never a fork of a
threaded web worker holding database connections. The forkserver imports the
app's modules once, so a job starts in about the time create_app() takes. The
child builds its own app from a snapshot of the parent's config.

A supervisor thread in the starting process waits for its child: it ends a
child that outlives a cancel or its hard deadline, fails a child that died
without recording an outcome ("interrupted"), and starts the next queued job.
The child polices itself too (see JobContext), so a job whose server restarted
still stops.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.process
import os
import pickle
import signal
import sys
import threading
import time
from datetime import timedelta

from flask import Flask

from app.extensions import db
from app.jobs import store
from app.jobs.context import DEADLINE_ERROR
from app.jobs.registry import registered
from app.jobs.runner import JobTerminated, execute, hostname
from app.jobs.settings import job_threads, setting, use_job_threads
from app.models.job import FAILED, RUNNING
from app.models.user import utcnow

log = logging.getLogger(__name__)

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SUPERVISE_POLL_S = 0.5


class SnapshotConfig:
    """A picklable copy of a running app's config, for create_app() in the child."""

    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)

    def finalise(self) -> None:
        """Already final in the parent."""


def config_snapshot(app: Flask) -> dict:
    values = {}
    for key, value in app.config.items():
        if key.isupper():
            try:
                pickle.dumps(value)
            except Exception:  # noqa: S112 (a setting a child cannot receive is one it does not need)
                continue
            values[key] = value
    values["JOB_PROCESS"] = True  # the child's app neither recovers nor dispatches
    return values


def child_main(config_values: dict, job_id: int, function_path: str) -> None:
    """Entry point of a job process."""
    threads = str(job_threads(config_values))
    for name in THREAD_VARIABLES:
        os.environ[name] = threads  # the web process runs with 1; a job uses the cores

    def terminate(_signum, _frame):
        raise JobTerminated()

    signal.signal(signal.SIGTERM, terminate)
    from app import create_app
    from app.jobs.registry import load

    try:
        app = create_app(SnapshotConfig(config_values))
        use_job_threads(app.config)
        with app.app_context():
            try:
                execute(app, job_id, function=load(function_path),
                        on_overrun=_hard_exit, on_abandoned=_hard_exit)
            finally:
                db.engine.dispose()
    except JobTerminated:  # cancelled while starting: the row already says so
        return


def _hard_exit() -> None:
    logging.shutdown()
    os._exit(75)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalBackend:
    """Runs jobs as child processes of this server, at most JOB_MAX_CONCURRENT at once."""

    name = "local"

    def __init__(self, app: Flask) -> None:
        self.app = app
        with app.app_context():
            self.engine = db.engine
        self._children: dict[int, multiprocessing.process.BaseProcess] = {}
        self._lock = threading.Lock()
        self._context = None

    # --- the Backend protocol ---------------------------------------------------
    def submit(self, job_id: int) -> None:
        self.dispatch()

    def dispatch(self, bind=None) -> list[int]:
        """Start queued jobs, oldest first, while a slot is free; their ids."""
        bind = bind if bind is not None else self.engine
        limit = setting(self.app.config, "JOB_MAX_CONCURRENT")
        started = []
        with self._lock:
            while store.has_queued(bind) and store.count_running(bind) < limit:
                job_id = store.claim_next(bind, limit, hostname())
                if job_id is None:
                    break
                self._start(job_id)
                started.append(job_id)
        return started

    def cancel(self, job_id: int, pid: int | None, worker: str | None) -> None:
        """SIGTERM now, SIGKILL after JOB_CANCEL_GRACE_S (the row is already cancelled)."""
        if job_id in self._children:
            return  # its supervisor sees the cancelled row: SIGTERM, then SIGKILL
        if pid and worker == hostname() and _pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            grace = setting(self.app.config, "JOB_CANCEL_GRACE_S")
            threading.Thread(target=self._kill_later, args=(pid, grace), daemon=True).start()

    def is_lost(self, job_id: int, pid: int | None, worker: str | None) -> bool:
        """A running job whose process on this host is gone (faster than the heartbeat)."""
        return bool(pid) and worker == hostname() and job_id not in self._children and not _pid_alive(pid)

    def warm_up(self) -> None:
        """Boot the forkserver now (e.g. from gunicorn's post_worker_init), not at the first job.

        It imports the app modules this process has loaded, so call it once the app is built.
        """
        if setting(self.app.config, "JOB_START_METHOD") == "forkserver":
            from multiprocessing import forkserver

            self._mp_context()
            forkserver.ensure_running()

    def terminate_all(self, timeout: float = 10.0) -> None:
        """End every job process this backend started (tests; a clean shutdown)."""
        for process in list(self._children.values()):
            process.kill()
            process.join(timeout)

    # --- processes ----------------------------------------------------------------
    def _mp_context(self):
        if self._context is None:
            method = setting(self.app.config, "JOB_START_METHOD")
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                modules = [m for m in sys.modules if m == "app" or m.startswith("app.")]
                extra = self.app.config.get("JOB_PRELOAD_MODULES", ())  # heavy imports jobs need
                context.set_forkserver_preload(sorted({"app.jobs.local", *modules, *extra}))
            self._context = context
        return self._context

    def _start(self, job_id: int) -> None:
        """Launch from a thread: the first start waits for the forkserver to boot."""
        threading.Thread(target=self._launch, args=(job_id,), name=f"job-{job_id}-supervisor",
                         daemon=True).start()

    def _launch(self, job_id: int) -> None:
        starting = threading.Event()
        threading.Thread(target=self._beat_while_starting, args=(job_id, starting), daemon=True).start()
        try:
            row = store.read(self.engine, job_id)
            function_path = registered(row["kind"]).path
            process = self._mp_context().Process(
                target=child_main, args=(config_snapshot(self.app), job_id, function_path),
                name=f"job-{job_id}",
            )
            process.start()
        except Exception as exc:
            starting.set()
            log.exception("job %s: could not start", job_id)
            message = getattr(exc, "message", None) or f"The job could not start: {exc}"
            store.finish(self.engine, job_id, FAILED, error=message)
            return
        # A web worker that exits must not wait for its jobs (multiprocessing joins
        # its children at exit): the supervisor thread is what waits for this one.
        multiprocessing.process._children.discard(process)
        store.set_pid(self.engine, job_id, process.pid)
        self._children[job_id] = process
        try:
            self._supervise(job_id, process)
        finally:
            starting.set()

    def _beat_while_starting(self, job_id: int, stop: threading.Event) -> None:
        """Beat for a job until its process beats itself (started_at set) or it ends."""
        interval = setting(self.app.config, "JOB_HEARTBEAT_INTERVAL_S")
        while not stop.wait(interval):
            row = store.read(self.engine, job_id)
            if row is None or row["status"] != RUNNING or row["started_at"] is not None:
                return
            store.beat(self.engine, job_id, None)

    def _supervise(self, job_id: int, process) -> None:
        grace = setting(self.app.config, "JOB_CANCEL_GRACE_S")
        slack = setting(self.app.config, "JOB_HEARTBEAT_INTERVAL_S") + 1.0  # the child polices first
        unwanted_since = None
        try:
            while True:
                process.join(SUPERVISE_POLL_S)
                if process.exitcode is not None:
                    break
                row = store.read(self.engine, job_id)
                if row is None or row["status"] != RUNNING:
                    if unwanted_since is None:
                        unwanted_since = time.monotonic()
                        process.terminate()
                    elif time.monotonic() - unwanted_since >= grace:
                        process.kill()
                elif row["kill_at"] is not None and utcnow() > row["kill_at"] + timedelta(seconds=slack):
                    store.finish(self.engine, job_id, FAILED, error=DEADLINE_ERROR)
                    process.kill()
        except Exception:
            log.exception("job %s: supervisor failed", job_id)
            process.join()
        finally:
            self._children.pop(job_id, None)
        if store.interrupt(self.engine, job_id, pid=process.pid):
            log.warning("job %s: its process ended (exit code %s) without an outcome", job_id,
                        process.exitcode)
        try:
            self.dispatch()  # a slot is free
        except Exception:
            log.exception("job %s: could not start the next queued job", job_id)

    @staticmethod
    def _kill_later(pid: int, grace: float) -> None:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
