"""What a running job function gets: progress reporting, a heartbeat, and when to stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.jobs import store
from app.jobs.settings import setting
from app.models.job import empty_progress

log = logging.getLogger(__name__)


class JobContext:
    """Passed to `fn(job_id, ctx)`.

    `report_progress(dict)` merges into the job's progress and writes it at most
    once per JOB_PROGRESS_MIN_INTERVAL_S; a heartbeat thread writes it (and the
    heartbeat) every JOB_HEARTBEAT_INTERVAL_S regardless. `should_stop()` is true
    once the job is cancelled (or otherwise ended elsewhere) or its deadline passed:
    the function should then return its best result so far.
    """

    def __init__(
        self, app, job_id: int, engine: Engine, *, row: dict, started_at: datetime,
        deadline_at: datetime | None, kill_at: datetime | None,
        on_overrun: Callable[[], None] | None = None,
        on_abandoned: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.config = app.config
        self.job_id = job_id
        self.kind: str = row["kind"]
        self.user_id: int = row["user_id"]
        self.request: dict = row["request"]  # what was asked, as stored
        self.time_budget_s: float | None = row["time_budget_s"]
        self.started_at = started_at
        self.deadline_at = deadline_at
        self.kill_at = kill_at
        self._engine = engine
        self._t0 = time.monotonic()
        self._budget_s = (deadline_at - started_at).total_seconds() if deadline_at else None
        self._kill_after_s = (kill_at - started_at).total_seconds() if kill_at else None
        self._min_interval = setting(app.config, "JOB_PROGRESS_MIN_INTERVAL_S")
        self._beat_interval = setting(app.config, "JOB_HEARTBEAT_INTERVAL_S")
        self._cancel_grace = setting(app.config, "JOB_CANCEL_GRACE_S")
        self._on_overrun = on_overrun
        self._on_abandoned = on_abandoned
        self._progress = empty_progress()
        self._state_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._last_write = float("-inf")
        self._unwanted_since: float | None = None
        self._overran = False
        self._stopped = threading.Event()  # the job is no longer wanted (cancelled, failed)
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    # --- for the job function -------------------------------------------------
    def report_progress(self, progress: dict) -> None:
        """Merge `progress` ({fraction, candidates_done, best_score, message, ...})."""
        with self._state_lock:
            self._progress.update(progress)
        if time.monotonic() - self._last_write >= self._min_interval:
            self._write(block=False)

    def should_stop(self) -> bool:
        """True when the job was cancelled or its deadline passed: return the best so far."""
        if self._stopped.is_set():
            return True
        return self._budget_s is not None and self.elapsed_s() >= self._budget_s

    @property
    def cancelled(self) -> bool:
        return self._stopped.is_set()

    def elapsed_s(self) -> float:
        return time.monotonic() - self._t0

    def remaining_s(self) -> float | None:
        """Seconds to the deadline (None without a budget)."""
        if self._budget_s is None:
            return None
        return max(0.0, self._budget_s - self.elapsed_s())

    @property
    def progress(self) -> dict:
        with self._state_lock:
            return self._snapshot()

    # --- for the runner -------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._heartbeat_loop, name=f"job-{self.job_id}-heartbeat", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _snapshot(self) -> dict:
        snapshot = dict(self._progress)
        snapshot["elapsed_s"] = round(self.elapsed_s(), 2)
        remaining = self.remaining_s()
        if remaining is not None:
            snapshot["remaining_s"] = round(remaining, 2)
        return snapshot

    def _write(self, *, block: bool) -> None:
        if not self._write_lock.acquire(blocking=block):
            return  # the heartbeat is writing; it or the next report carries this
        try:
            with self._state_lock:
                snapshot = self._snapshot()
            self._last_write = time.monotonic()
            wanted = store.beat(self._engine, self.job_id, snapshot)
        except SQLAlchemyError:
            log.warning("job %s: could not write its heartbeat", self.job_id, exc_info=True)
            return
        finally:
            self._write_lock.release()
        if not wanted and not self._stopped.is_set():
            log.info("job %s: no longer wanted (cancelled or ended elsewhere)", self.job_id)
            self._unwanted_since = time.monotonic()
            self._stopped.set()

    def _heartbeat_loop(self) -> None:
        while not self._done.wait(self._beat_interval):
            self._write(block=True)
            self._police()

    def _police(self) -> None:
        """Past the hard deadline, or cancelled and not stopping: end the process."""
        if self._overran:
            return
        if self._kill_after_s is not None and self.elapsed_s() >= self._kill_after_s:
            self._overran = True
            log.warning("job %s: did not stop at its deadline", self.job_id)
            store.finish(self._engine, self.job_id, store.FAILED, error=DEADLINE_ERROR)
            if self._on_overrun:
                self._on_overrun()
        elif (
            self._unwanted_since is not None
            and time.monotonic() - self._unwanted_since >= self._cancel_grace
            and self._on_abandoned
        ):
            log.warning("job %s: did not stop after it was cancelled", self.job_id)
            self._on_abandoned()


DEADLINE_ERROR = "The job did not stop at its deadline and was ended."
