"""Refits after the search: each family's best on the dev rows, then the kept models on all
rows; several at once in the fold workers when there are any (see workers.py).

On the benchmark's diamonds_cut (40,455 training rows, 2 cores, 27 Nov 2026) the five
families' and boosting's three runners-up's refits on the dev rows took 12 s instead of 17 s
one after another, and in some runs the ensemble could then be refitted on all rows within
the 60 s (test error 0.2044 -> 0.2003; in others its estimate still missed the time left by
a few seconds). Forests stay here: sent back from a worker, two forests
of 120 trees on 32,000 rows cost more to move than to fit (the dev refits took 15 s).
"""

from __future__ import annotations

from concurrent.futures import ALL_COMPLETED, wait
from dataclasses import dataclass

import numpy as np

from app.ml.training.candidates import fit_clone, make_pipeline
from app.ml.training.request import KeptModel

# The refit of a model is assumed to cost this much more per row than its CV folds did;
# its save, this much more than costs.save_seconds estimates.
REFIT_SAFETY = 1.5
SAVE_SAFETY = 1.5
# A kept model's refit on all rows is estimated from its own refit on the dev rows, a
# closer measure than fold times (and an upper one: the dev refits share the cores). On the
# benchmark's four larger sets the refits on all rows took 0.49-0.83x the estimate at 1.2
# (diamonds_cut: 0.38-0.46x at REFIT_SAFETY), so 1.1.
REFIT_ALL_SAFETY = 1.1

# Boosting refitted on more than ROUNDS_REFIT_ROWS x a fold's rows picks its own rounds by
# early stopping, up to ROUNDS_CAP x what CV chose: more rows want more rounds (on the
# benchmark's diamonds_cut, 9,000 search rows chose ~90 and 54,000 rows chose ~270, and the
# test error went 0.2056 -> 0.2012). The time plan assumes ROUNDS_GROWTH x the rounds.
ROUNDS_REFIT_ROWS, ROUNDS_CAP, ROUNDS_GROWTH = 2, 3, 2.0
# How often a wait for refits in the workers looks for a stop request.
STOP_POLL_S = 0.25


def workers_of(executor) -> int:
    return getattr(executor, "_max_workers", 1) if executor is not None else 1


@dataclass
class FitJob:
    """One planned fit: `seconds` is its estimate on the thread(s) it will run on."""

    name: str
    pipeline: object
    rows: int
    seconds: float


def pooled(pipelines: list, workers: int) -> list[bool]:
    """Which of these fits go to the workers: the single-threaded ones (boosting, linear
    models, trees), when there are at least two of them. A forest fits here on its own
    threads (see the module docstring)."""
    single = [threads(p) == 1 for p in pipelines]
    return single if workers > 1 and sum(single) > 1 else [False] * len(pipelines)


def fits_seconds(seconds: list[float], pipelines: list, workers: int) -> float:
    """Wall-clock estimate of run_fits for jobs of these estimates (each on the threads it
    will run on): the pooled ones on the workers, longest first to the least loaded, plus
    the others here one after another (an upper bound: they run while the workers do)."""
    in_pool = pooled(pipelines, workers)
    return makespan([s for s, p in zip(seconds, in_pool, strict=True) if p], workers) + sum(
        s for s, p in zip(seconds, in_pool, strict=True) if not p)


def run_fits(jobs: list[FitJob], X, y, executor, should_stop) -> dict[str, tuple] | None:
    """name -> (fitted clone, seconds), each on the first `rows` of X, y;
    None when should_stop() turned true first. The pooled jobs (see `pooled`: all single-
    threaded) run in the executor's workers at once, longest first; the others here
    meanwhile, one after another."""
    if should_stop():
        return None
    in_pool = pooled([j.pipeline for j in jobs], workers_of(executor))
    futures = {job.name: executor.submit(fit_clone, job.pipeline, X.iloc[:job.rows],
                                         y[:job.rows])
               for job, p in sorted(zip(jobs, in_pool, strict=True),
                                    key=lambda jp: -jp[0].seconds) if p}
    out = {}
    for job in (j for j, p in zip(jobs, in_pool, strict=True) if not p):
        if should_stop():
            return _cancelled(futures)
        pipe, seconds = fit_clone(job.pipeline, X.iloc[:job.rows], y[:job.rows])
        out[job.name] = (pipe, seconds)
    while not all(f.done() for f in futures.values()):
        if should_stop():
            return _cancelled(futures)
        wait(list(futures.values()), timeout=STOP_POLL_S, return_when=ALL_COMPLETED)
    out.update({name: future.result() for name, future in futures.items()})
    return {job.name: out[job.name] for job in jobs}


def _cancelled(futures: dict) -> None:
    for future in futures.values():
        future.cancel()
    return None


def threads(pipeline) -> int:
    """Threads a pipeline's model fits on (a forest's n_jobs; one for everything else)."""
    return int(pipeline[-1].get_params().get("n_jobs") or 1)


def makespan(seconds: list[float], workers: int) -> float:
    """Wall-clock time of these jobs on `workers` processes, each longest job first to the
    least loaded (the order run_fits submits them in)."""
    if workers < 2:
        return float(sum(seconds))
    loads = [0.0] * workers
    for s in sorted(seconds, reverse=True):
        loads[loads.index(min(loads))] += s
    return max(loads)


def refit_rows(cand, n_dev: int, n_fold_rows: float, n_folds: int, seconds: float,
               growth: float = 1.0, save_per_row: float = 0.0) -> int:
    """How many training rows the refit (and its save, `save_per_row` seconds a row) can
    afford in `seconds` (at least one fold's worth)."""
    fold_s = REFIT_SAFETY * growth * max(cand.fit_time_s / n_folds, 1e-3)
    rows = seconds / (fold_s / max(n_fold_rows, 1) + save_per_row)
    if cand.family.fit_power > 1:  # the fit alone, growing faster than the rows
        rows = min(rows, n_fold_rows * (seconds / fold_s) ** (1 / cand.family.fit_power))
    return int(np.clip(rows, min(n_fold_rows, n_dev), n_dev))


def _boosting_rounds(pipe, cand, rows: int, n_fold_rows: int) -> None:
    """Rounds CV chose (a predictable cost), or early stopping when the rows are many more."""
    rounds = max(10, int(np.mean(cand.iterations) * 1.1))
    if rows > ROUNDS_REFIT_ROWS * n_fold_rows:
        pipe.set_params(model__max_iter=ROUNDS_CAP * rounds)
    else:
        pipe.set_params(model__max_iter=rounds, model__early_stopping=False)


def refit_dev(ranked, data, request, prep, cardinality, task, clock, should_stop, progress,
              keep_for_later: float, runners: bool = False, tracked: bool = False,
              executor=None) -> dict[str, KeptModel]:
    """Refit each family's best on as many dev rows as its share of the time left affords.

    The time left is counted in core-seconds (see run_fits: a pooled fit holds one core, a
    forest's fit here all of them). The best family gets half of it; the others share the
    rest. A family that cannot even refit on one fold's worth of rows in time is dropped
    (never the best). When `tracked`, the others' shares also pay for their own save, which
    comes later, here (`keep_for_later` holds the best's): a forest's save grows with its
    nodes, so with its rows.
    With `runners`, the candidates are boosting's runners-up for the ensemble, keyed by
    candidate name; each is dropped when it does not fit.
    """
    X_dev, y_dev, _, _, _, _, folds = data
    n_fold_rows, n_folds = len(folds[0][0]), len(folds)
    workers = workers_of(executor)
    wall = clock.deadline - clock.now() - keep_for_later  # the longest fit must fit in it
    work = wall * workers
    jobs: list[FitJob] = []
    by_name = {}
    for i, cand in enumerate(ranked):
        share = 0.5 if i == 0 and not runners else 1.0 / (len(ranked) - i)
        boosting = cand.family.style == "hgb" and bool(cand.iterations)
        growth = ROUNDS_GROWTH if boosting and len(X_dev) > ROUNDS_REFIT_ROWS * n_fold_rows \
            else 1.0
        saving = SAVE_SAFETY * cand.save_s / len(prep.X) if tracked and (i or runners) else 0.0
        cores = workers if cand.family.fixed.get("n_jobs", 1) > 1 else 1  # a forest: all
        rows = min(refit_rows(cand, len(X_dev), n_fold_rows, n_folds, work * share / cores,
                              growth, saving * workers / cores),
                   refit_rows(cand, len(X_dev), n_fold_rows, n_folds, wall, growth, saving))
        estimate = REFIT_SAFETY * growth * cand.fit_time_s / n_folds \
            * (rows / n_fold_rows) ** cand.family.fit_power
        cost = estimate * cores + saving * rows * workers
        if (jobs or runners) and cost > work:
            continue
        work -= cost
        pipe = make_pipeline(cand.family, cand.params, request.seed, prep.features,
                             cardinality, task, rows)
        if boosting:
            _boosting_rounds(pipe, cand, rows, n_fold_rows)
        name = cand.name if runners else cand.family.name
        jobs.append(FitJob(name, pipe, rows, estimate))
        by_name[name] = cand
    if not jobs or should_stop():
        return {}
    progress.update(message=f"Refitting {_labels(by_name.values())}")
    fits = run_fits(jobs, X_dev, y_dev, executor, should_stop)
    if fits is None:
        return {}
    kept = {}
    for job in jobs:
        cand, (pipe, seconds) = by_name[job.name], fits[job.name]
        kept[job.name] = KeptModel(cand.family.name, cand.family.label, pipe, cand.params,
                                   cand.cv_score, cand.cv_metrics, round(seconds, 3),
                                   trained_rows=job.rows, fit_power=cand.family.fit_power)
    return kept


def _labels(cands) -> str:
    names = list(dict.fromkeys(c.family.label.lower() for c in cands))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def one_refit_seconds(kept_model: KeptModel, n_rows: int) -> float:
    """Estimated seconds to refit a kept model on `n_rows` rows, on the threads it was
    fitted on (run_fits fits a model on the same threads each time)."""
    growth = (n_rows / max(kept_model.trained_rows, 1)) ** kept_model.fit_power
    return REFIT_ALL_SAFETY * kept_model.fit_time_s * growth + 0.05


def refit_all_seconds(names: list[str], kept: dict, n_all: int, workers: int = 1) -> float:
    """Estimated wall-clock seconds for run_fits to refit these kept models on `n_all` rows."""
    return fits_seconds([one_refit_seconds(kept[n], n_all) for n in names],
                        [kept[n].pipeline for n in names], workers)
