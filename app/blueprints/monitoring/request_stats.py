"""Request and prediction statistics: aggregated in each process's memory, written in batches.

After each request the hook adds one observation to the process's aggregate for its
(minute, user, URL rule, method, status class); predictions are added by the prediction
service. A background thread writes the changed cells every REQUEST_STATS_FLUSH_SECONDS
(and once more at exit): it inserts a row the first time a cell is written and later
overwrites that row with the new totals, so each process only touches its own rows and
readers sum them. Requests never write (a request's own open transaction would make
them wait on SQLite); readers add their process's unwritten cells instead. Rows older
than REQUEST_STATS_RETENTION_DAYS are pruned.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import bindparam, delete, insert, inspect, select, update

from app.blueprints.monitoring.latency import Histogram
from app.extensions import db
from app.models import TrainedModel
from app.models.request_stats import PredictionStat, RequestStat
from app.models.user import utcnow

log = logging.getLogger(__name__)

SKIPPED_PATHS = ("/metrics", "/healthz", "/readyz")
SKIPPED_PREFIXES = ("/static/",)
KEEP_MINUTES = 3  # written cells of older minutes leave memory
GIVE_UP_MINUTES = 120  # unwritten cells older than this are dropped (database down)
PRUNE_EVERY_S = 3600


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def epoch_minute(moment: datetime | None = None) -> int:
    """Minutes since 1970 (UTC): the cheap key of a cell; its datetime is made only when written."""
    if moment is None:
        return int(time.time() // 60)
    return int(moment.replace(tzinfo=UTC).timestamp() // 60)


def minute_at(index: int) -> datetime:
    return datetime.fromtimestamp(index * 60, UTC).replace(tzinfo=None)


@dataclass
class Cell:
    """One (minute, key) aggregate of this process, and the row it was written to."""

    histogram: Histogram = field(default_factory=Histogram)
    rows: int = 0  # predictions only: rows predicted
    row_id: int | None = None
    dirty: bool = True


class StatsBuffer:
    """The cells of one process; thread-safe, reset in a forked child."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.flush_lock = threading.Lock()
        self.requests: dict[tuple, Cell] = {}
        self.predictions: dict[tuple, Cell] = {}
        self.last_flush = time.monotonic()
        self.last_prune = 0.0
        self.thread: threading.Thread | None = None
        self.background = getattr(self, "background", False)  # kept across a fork

    def _check_fork(self) -> None:
        if os.getpid() != self.pid:
            self._reset()  # the parent's cells and row ids are the parent's

    def add_request(self, user_id: int | None, rule: str, method: str, status: int, ms: float,
                    now: datetime | None = None) -> None:
        key = (epoch_minute(now), user_id, rule[:200], method[:10], max(1, min(5, status // 100)))
        self._add(self.requests, key, ms, 0)

    def add_prediction(self, user_id: int | None, model_id: int, n_rows: int, ms: float,
                       now: datetime | None = None) -> None:
        self._add(self.predictions, (epoch_minute(now), user_id, int(model_id)), ms, n_rows)

    def _add(self, cells: dict, key: tuple, ms: float, n_rows: int) -> None:
        self._check_fork()
        with self.lock:
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = Cell()
            cell.histogram.observe(ms)
            cell.rows += n_rows
            cell.dirty = True

    def forget_user(self, user_id: int) -> None:
        """Account erasure: the user's request cells become anonymous, their prediction cells go."""
        with self.lock:
            for key in [k for k in self.requests if k[1] == user_id]:
                self.requests[(key[0], ("erased", user_id), *key[2:])] = cell = self.requests.pop(key)
                cell.dirty = True  # its row, if written, was made anonymous too
            for key in [k for k in self.predictions if k[1] == user_id]:
                del self.predictions[key]

    def pending(self, kind: str) -> list[tuple[tuple, int | None, dict]]:
        """Copies of this process's cells (`kind` "requests" or "predictions"): key, row id, values."""
        self._check_fork()
        cells, values = ((self.requests, _request_values) if kind == "requests"
                         else (self.predictions, _prediction_values))
        with self.lock:
            return [(key, cell.row_id, values(key, cell)) for key, cell in cells.items()]

    def due(self, interval: float) -> bool:
        return time.monotonic() - self.last_flush >= interval

    def flush(self, retention_days: float | None = None, wait: float = 0) -> int:
        """Write every changed cell (needs an app context); returns how many were written."""
        self._check_fork()
        acquired = self.flush_lock.acquire(timeout=wait) if wait else self.flush_lock.acquire(blocking=False)
        if not acquired:
            return 0  # another thread is writing (`wait`: seconds to wait for it)
        try:
            self.last_flush = time.monotonic()
            written = self._write(RequestStat, self.requests, _request_values)
            written += self._write(PredictionStat, self.predictions, _prediction_values)
            if retention_days and time.monotonic() - self.last_prune >= PRUNE_EVERY_S:
                self.last_prune = time.monotonic()
                prune(retention_days)
            return written
        finally:
            self.flush_lock.release()

    def _write(self, model, cells: dict, values) -> int:
        with self.lock:
            batch = [(key, cell, values(key, cell)) for key, cell in cells.items() if cell.dirty]
            for _, cell, _ in batch:
                cell.dirty = False
        if not batch:
            self._evict(cells)
            return 0
        new = [(key, cell, row) for key, cell, row in batch if cell.row_id is None]
        old = [{"_id": cell.row_id, **row} for _, cell, row in batch if cell.row_id is not None]
        table = model.__table__
        try:
            with db.engine.begin() as conn:
                if old:
                    columns = {name: bindparam(name) for name in old[0] if name != "_id"}
                    conn.execute(update(table).where(table.c.id == bindparam("_id")).values(columns), old)
                if new:
                    ids = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                       [row for _, _, row in new]).scalars().all()
                    with self.lock:
                        for (_, cell, _), row_id in zip(new, ids, strict=True):
                            cell.row_id = row_id
        except Exception:  # statistics must never break a request
            log.warning("could not write %s; kept for the next try", table.name, exc_info=True)
            with self.lock:
                for _, cell, _ in batch:
                    cell.dirty = True
            self._evict(cells)
            return 0
        self._evict(cells)
        return len(batch)

    def _evict(self, cells: dict) -> None:
        now = epoch_minute()
        with self.lock:
            for key in [k for k, c in cells.items()
                        if (not c.dirty and now - k[0] > KEEP_MINUTES) or now - k[0] > GIVE_UP_MINUTES]:
                del cells[key]


def _histogram_values(cell: Cell) -> dict:
    h = cell.histogram
    return {"sum_ms": h.sum_ms, "max_ms": h.max_ms, "buckets": list(h.buckets)}


def _request_values(key: tuple, cell: Cell) -> dict:
    minute, user_id, rule, method, status_class = key
    return {"minute": minute_at(minute), "user_id": user_id if isinstance(user_id, int) else None, "url_rule": rule, "method": method,
            "status_class": status_class, "count": cell.histogram.count, **_histogram_values(cell)}


def _prediction_values(key: tuple, cell: Cell) -> dict:
    minute, user_id, model_id = key
    return {"minute": minute_at(minute), "user_id": user_id, "model_id": model_id, "calls": cell.histogram.count,
            "rows": cell.rows, **_histogram_values(cell)}


def prune(days: float) -> None:
    cutoff = utcnow() - timedelta(days=days)
    with db.engine.begin() as conn:
        for model in (RequestStat, PredictionStat):
            conn.execute(delete(model.__table__).where(model.__table__.c.minute < cutoff))


# --- the app's buffer and hooks ---------------------------------------------------------------

def stats_buffer(app: Flask | None = None) -> StatsBuffer:
    return (app or current_app).extensions["request_stats"]


def flush(app: Flask | None = None, wait: float = 0) -> int:
    """Write this process's changed cells now (the thread, the exit hook, tests; never a request)."""
    app = app or current_app
    return stats_buffer(app).flush(app.config.get("REQUEST_STATS_RETENTION_DAYS", 7), wait=wait)


def write_at_exit(app: Flask) -> None:
    """What this process still holds, written as it exits (after the thread, if it is writing).

    No pruning here: the serving thread prunes, and a process that served nothing (a CLI
    command, a script) has nothing to write and may run where no database was migrated.
    """
    try:
        with app.app_context():
            stats_buffer(app).flush(None, wait=30)
    except Exception:
        log.warning("could not write request statistics at exit", exc_info=True)


def record_prediction(model_id: int, n_rows: int, seconds: float) -> None:
    """The prediction service's call: rows predicted and the time the call took.

    In a request the caller is the model's owner (another user's model is never found); in a
    job (batch scoring) the owner is read from the model, which the job has just loaded.
    """
    buffer = current_app.extensions.get("request_stats")
    if buffer is None:
        return
    if has_request_context():
        user_id = _request_user_id()
    else:
        model = db.session.get(TrainedModel, model_id)
        user_id = model.user_id if model is not None else None
    buffer.add_prediction(user_id, model_id, n_rows, seconds * 1000)
    if buffer.background:
        _start_thread(current_app._get_current_object(), buffer)  # a job process serves no request


def erase_user(user) -> None:
    """Account eraser: the user's request figures stay only as anonymous totals."""
    unsynchronised = {"synchronize_session": False}  # these rows are never loaded as objects
    db.session.execute(update(RequestStat).where(RequestStat.user_id == user.id).values(user_id=None),
                       execution_options=unsynchronised)
    owned = select(TrainedModel.id).where(TrainedModel.user_id == user.id)
    db.session.execute(delete(PredictionStat).where(
        (PredictionStat.user_id == user.id) | PredictionStat.model_id.in_(owned)), execution_options=unsynchronised)
    buffer = current_app.extensions.get("request_stats")
    if buffer is not None:
        buffer.forget_user(user.id)


def _request_user_id() -> int | None:
    """The caller's id without a query: the API user, or the session user flask-login loaded."""
    user = g.get("api_user") or g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    state = inspect(user)
    if state.deleted or state.was_deleted:
        return None  # the request that erased the account counts as anonymous
    return state.identity[0] if state.identity else None


def _skipped(path: str) -> bool:
    return path in SKIPPED_PATHS or path.startswith(SKIPPED_PREFIXES)


def _start_thread(app: Flask, buffer: StatsBuffer) -> None:
    """A daemon thread writes the batch of an idle process (one per process, started after a fork)."""
    if buffer.thread is not None and buffer.thread.is_alive():
        return
    interval = float(app.config.get("REQUEST_STATS_FLUSH_SECONDS", 10))
    app_ref = weakref.ref(app)

    def run():
        while True:
            time.sleep(interval)
            current = app_ref()
            if current is None:
                return
            with current.app_context():
                if buffer.due(interval):
                    flush(current)
            del current

    buffer.thread = threading.Thread(target=run, name="request-stats-flush", daemon=True)
    buffer.thread.start()


def init_request_stats(app: Flask) -> None:
    """Time every request (except metrics, health and static files) into this process's buffer.

    The writing thread is off under TESTING (tests call `flush`) or with REQUEST_STATS_FLUSH_SECONDS 0.
    """
    if "request_stats" in app.extensions:
        return
    buffer = app.extensions["request_stats"] = StatsBuffer()
    background = buffer.background = not app.testing and app.config.get("REQUEST_STATS_FLUSH_SECONDS", 10) > 0

    @app.before_request
    def _start_timer():
        g.stats_started = time.perf_counter()

    @app.after_request
    def _record(response):
        started = g.pop("stats_started", None) or g.get("request_started")  # an earlier hook answered
        if started is None or _skipped(request.path):
            return response
        try:
            rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            buffer.add_request(_request_user_id(), rule, request.method, response.status_code,
                               (time.perf_counter() - started) * 1000)
            if background:
                _start_thread(app, buffer)
        except Exception:  # statistics must never break a request
            log.warning("request statistics failed", exc_info=True)
        return response

    app_ref = weakref.ref(app)

    def _flush_at_exit():
        current = app_ref()
        if current is not None:
            write_at_exit(current)

    if not app.testing:
        atexit.register(_flush_at_exit)
