"""Worker processes that cross-validate folds on every core.

Boosting, linear models and single trees fit on one thread (see candidates.OPENMP_THREADS),
so a search that runs its folds one after another leaves the second core idle. Two folds
at once in two worker processes, on the benchmark's sets (5 folds of default boosting,
2-core machine, 27 Nov 2026): 0.54x the sequential time on txhousing (6,400 rows), 0.57x
on diamonds (43,000 rows). Two threads instead took 1.2-1.7x on the small and mid-sized
sets (the fits hold the GIL between their compiled loops), hence processes.

The workers are loky's reusable executor (joblib's process pool): started once per process
and reused by later searches; they exit when idle, and are killed when the process that
started them dies (a cancelled or killed job must not leave a fold running: loky's own
workers outlived a SIGKILLed parent by minutes).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

# Worker processes: one per core (at most 4; each holds its own copy of a fold's data).
WORKERS = max(1, min(os.cpu_count() or 1, 4))
IDLE_TIMEOUT_S = 120
# One thread per worker for OpenMP and BLAS as well (they would fight over the cores).
_ENV = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _die_with_parent(parent_pid: int) -> None:
    """Worker initializer: SIGKILL this worker when its parent dies (Linux prctl), or exit
    now if it already has (it died while this worker was still importing)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(0)


def fold_executor(workers: int = WORKERS):
    """The process pool for folds, or None when folds should run in this process: one
    worker would do, or this is a daemon process (a Celery prefork child), which may not
    start processes of its own."""
    if workers < 2 or multiprocessing.current_process().daemon:
        return None
    from joblib.externals.loky import get_reusable_executor

    return get_reusable_executor(max_workers=workers, timeout=IDLE_TIMEOUT_S, env=_ENV,
                                 initializer=_die_with_parent, initargs=(os.getpid(),))
