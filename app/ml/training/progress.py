"""Progress reports at least every 2 s, even while one long fit blocks the search thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

TICK_S = 1.0


class ProgressReporter:
    """Keeps the latest progress and sends it from the search thread or a ticker thread.

    Calls to `on_progress` are serialised by a lock, so the callback never runs twice at once;
    it may run on the ticker thread while a fit is in progress.
    """

    def __init__(self, on_progress: Callable[[dict], None], started: float, budget_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self.on_progress = on_progress
        self.started, self.budget_s, self.clock = started, budget_s, clock
        self.state = {"candidates_done": 0, "best_score": None, "message": "Starting"}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True, name="progress")
        self._last_sent = 0.0

    def __enter__(self):
        self.send()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2 * TICK_S)

    def _tick(self):
        while not self._stop.wait(TICK_S / 2):
            if self.clock() - self._last_sent >= TICK_S:
                self.send()

    def update(self, **state):
        self.state.update(state)
        self.send()

    def send(self, fraction: float | None = None):
        with self._lock:
            elapsed = self.clock() - self.started
            if fraction is None:
                fraction = min(0.99, max(0.0, elapsed / self.budget_s))
            report = {
                "fraction": round(float(fraction), 4),
                "elapsed_s": round(elapsed, 2),
                "remaining_s": round(max(0.0, self.budget_s - elapsed), 2),
                **self.state,
            }
            self._last_sent = self.clock()
            with contextlib.suppress(Exception):  # a failing sink must not kill training
                self.on_progress(report)
