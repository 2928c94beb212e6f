"""Which candidates to try, in a seed-determined order, and how one is cross-validated."""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from app.ml.training.costs import save_seconds
from app.ml.training.families import (
    FOREST_JOBS,
    IDENTITY,
    LOG,
    NUMERIC,
    POISSON,
    SQUARED_ERROR,
    TARGET,
    Family,
)
from app.ml.training.metrics import classification_metrics, error_of, regression_metrics, score
from app.ml.training.preprocessing import STANDARD, build_preprocessor

# Above this many search rows, forests start smaller so a first fit stays short.
LARGE_SEARCH_ROWS = 8_000
# Below this many training rows a forest fit runs on one thread. Measured on the benchmark's
# sets (250 trees, idle machine): two threads took 0.55-0.65x the time from 2,500 rows on,
# 0.8-0.9x at 1,000 and the same at 600 (the limit was 10,000 before: half of txhousing's
# 60 s search went to the forests' single-threaded folds).
PARALLEL_MIN_ROWS = 1_000
# Defaults: the usual winner first, then the cheap linear model, tree and neighbours (a full
# leaderboard even when big data makes each forest fold slow), then the forests.
DEFAULT_ORDER = ("hist_gradient_boosting", "logistic_regression", "ridge", "decision_tree",
                 "k_nearest_neighbors", "support_vector_machine", "random_forest",
                 "extra_trees")
FORESTS = ("random_forest", "extra_trees")
# How often the search picks each family after the defaults, by rank of its best score.
RANK_WEIGHTS = (5.0, 2.5, 1.0, 0.4)
# A family whose best error is more than FAR_BEHIND x the leader's gets the last weight
# whatever its rank: on bikeshare the forests ranked second and third with 1.4-1.5x boosting's
# error, and took two thirds of the search's time (a forest fold costs 4x a boosting fold
# there) for candidates no ensemble used; boosting got 4 settings of 9 candidates.
FAR_BEHIND = 1.25
# Metrics for which balanced class weights are a searched option when the classes are
# imbalanced. Not accuracy or log loss: weights that favour the rare classes trade those
# away by design (diamonds_cut, accuracy: 3 of 6 boosting settings tried were weighted,
# each 0.011-0.014 below the unweighted default in CV).
CLASS_WEIGHT_METRICS = ("balanced_accuracy", "f1_macro", "roc_auc")


@dataclass
class Candidate:
    """One (family, params) trial and what came of it."""

    index: int
    family: Family
    params: dict
    status: str = "pending"  # ok | failed | skipped
    cv_metrics: dict = field(default_factory=dict)
    cv_score: float = -np.inf
    fit_time_s: float = 0.0
    error: str | None = None
    oof: np.ndarray | None = None
    save_s: float = 0.0  # estimated seconds to save a model like this one
    fold_s: float = 0.0  # mean seconds of one fold, fit and validation predictions
    iterations: list = field(default_factory=list)  # boosting rounds early stopping chose

    @property
    def name(self) -> str:
        return f"{self.family.name}-{self.index}"


def threads_for(n_rows: int) -> int:
    """joblib threads worth using for a forest fit: on small data start-up costs more."""
    return 1 if n_rows < PARALLEL_MIN_ROWS else FOREST_JOBS


# OpenMP/BLAS threads: always one. On the shared 2-core machine OpenMP spin-waiting made
# HGB 2-6x slower with 2 threads (0.8 s vs 0.14 s on 455 rows; worse on 80k rows).
OPENMP_THREADS = 1


def single_threaded(model) -> None:
    """A finished model predicts on one thread: it serves a row at a time in a web worker,
    where joblib's two threads made a 250-tree forest 2.3x slower (65 vs 29 ms a row)."""
    for pipe in getattr(model, "members", None) or [model]:
        if pipe[-1].get_params().get("n_jobs") not in (None, 1):  # forests (not logistic)
            pipe[-1].set_params(n_jobs=1)


def make_pipeline(family: Family, params: dict, seed: int, kinds: dict, cardinality: dict,
                  task: str, n_rows: int = 0) -> Pipeline:
    """Preprocessing + estimator for one candidate (the object that gets saved)."""
    pre, native = build_preprocessor(kinds, cardinality, family.style, task, seed,
                                     scaling=params.get(NUMERIC, STANDARD))
    model = family.build(params, seed, native, threads_for(n_rows), n_rows)
    return Pipeline([*pre.steps, ("model", model)])


def fit_limited(model, X, y):
    """Fit with OpenMP/BLAS threads capped (see OPENMP_THREADS)."""
    with threadpool_limits(OPENMP_THREADS):
        return model.fit(X, y)


def fit_clone(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray) -> tuple[Pipeline, float]:
    """A fitted clone of `pipeline` and its fit seconds (in this process or a worker)."""
    model = clone(pipeline)
    started = time.perf_counter()
    fit_limited(model, X, y)
    return model, time.perf_counter() - started


def default_params(family: Family, n_rows: int, class_weight: str | None) -> dict:
    params = dict(family.defaults)
    if "n_estimators" in params and n_rows > LARGE_SEARCH_ROWS:
        params["n_estimators"] = 120
    if family.supports_class_weight and class_weight:
        params["class_weight"] = class_weight
    return params


class Proposer:
    """Defaults of every family first, then random or local moves weighted to the best families
    (by rank, see RANK_WEIGHTS; a family far behind the leader gets the least, FAR_BEHIND).

    The order depends only on the seed and on earlier scores (deterministic), never on time.
    A family's defaults are followed by its variant (Family.variant): ridge's Yeo-Johnson
    numbers (see families.NUMERIC), the SVM's standardised ones.
    With a target that is never negative, boosting's defaults are also tried with the
    Poisson loss, before the (slower) forests, and ridge's variant fits log(1 + y);
    otherwise neither that loss nor that target is ever proposed.
    """

    def __init__(self, families: list[Family], seed: int, n_rows: int,
                 imbalanced: bool, default_class_weight: str | None,
                 nonnegative_target: bool = False, metric: str = "accuracy"):
        self.rng = np.random.default_rng(seed)
        self.metric = metric  # the candidates' scores are `score(..., metric)`
        first = sorted(families, key=lambda f: DEFAULT_ORDER.index(f.name))
        self.queue = [(f, default_params(f, n_rows, default_class_weight)) for f in first]
        self.nonnegative = nonnegative_target
        for at in [i for i, (f, _) in enumerate(self.queue) if f.variant][::-1]:
            family, params = self.queue[at]  # the variant next (cheap: ridge or an SVM)
            shaped = {**params, **family.variant}
            if TARGET in params and self.nonnegative:
                shaped[TARGET] = LOG
            self.queue.insert(at + 1, (family, shaped))
        if self.nonnegative:
            at = next((i for i, (f, _) in enumerate(self.queue) if f.name in FORESTS),
                      len(self.queue))
            self.queue[at:at] = [(f, {**p, "loss": POISSON}) for f, p in self.queue
                                 if p.get("loss") == SQUARED_ERROR]
        self.families = families
        self.weigh_classes = imbalanced and metric in CLASS_WEIGHT_METRICS
        self.seen: set[tuple] = set()

    def _weights(self, best: dict[str, Candidate], out_of_time: set[str]) -> np.ndarray:
        ranked = sorted(best.values(), key=lambda c: -c.cv_score)
        rank = {c.family.name: i for i, c in enumerate(ranked)}
        lead_error = error_of(ranked[0].cv_score, self.metric) if ranked else 0.0
        weights = []
        for f in self.families:
            if f.name in out_of_time or f.name not in rank:
                weights.append(0.0)
            elif error_of(best[f.name].cv_score, self.metric) > FAR_BEHIND * lead_error:
                weights.append(RANK_WEIGHTS[-1])
            else:
                weights.append(RANK_WEIGHTS[min(rank[f.name], len(RANK_WEIGHTS) - 1)])
        return np.asarray(weights)

    def next(self, best: dict[str, Candidate], out_of_time: set[str]) -> tuple | None:
        while self.queue:
            family, params = self.queue.pop(0)
            self.seen.add((family.name, repr(sorted(params.items()))))
            if family.name not in out_of_time:
                return family, params
        weights = self._weights(best, out_of_time)
        if weights.sum() == 0:
            return None
        for _ in range(8):
            family = self.families[int(self.rng.choice(len(self.families),
                                                       p=weights / weights.sum()))]
            params = family.sample(self.rng)
            incumbent = best[family.name].params
            if self.rng.random() < 0.5:  # local move around the family's best
                params = {k: (params[k] if self.rng.random() < 0.35 else incumbent.get(k, v))
                          for k, v in params.items()}
            if params.get("loss") == POISSON and not self.nonnegative:
                params["loss"] = SQUARED_ERROR
            if params.get(TARGET) == LOG and not self.nonnegative:
                params[TARGET] = IDENTITY
            if family.supports_class_weight and self.weigh_classes:
                params["class_weight"] = [None, "balanced"][int(self.rng.integers(2))]
            elif "class_weight" in incumbent:
                params["class_weight"] = incumbent["class_weight"]
            key = (family.name, repr(sorted(params.items())))
            if key not in self.seen:
                self.seen.add(key)
                return family, params
        return None


def aligned_proba(model, X, classes: np.ndarray) -> np.ndarray:
    """predict_proba with columns in the global class order (a fold may miss a class)."""
    proba = model.predict_proba(X)
    if len(model.classes_) == len(classes) and np.array_equal(model.classes_, classes):
        return proba
    out = np.zeros((len(X), len(classes)))
    index = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(model.classes_):
        out[:, index[c]] = proba[:, j]
    return out


def fit_fold(pipeline: Pipeline, X_train: pd.DataFrame, y_train: np.ndarray,
             X_valid: pd.DataFrame, task: str, classes: np.ndarray | None,
             save_scale: float, one_thread: bool = False) -> tuple:
    """Fit one fold; (validation predictions, fit seconds, save estimate, boosting rounds,
    fit + predict seconds: what the fold held the core for; k-nearest neighbours spends
    nearly all of it predicting).

    Runs in this process or in a worker (see workers.py); `one_thread` when it shares the
    cores with another worker (a forest then fits on one thread, not two)."""
    model = clone(pipeline)
    if one_thread:
        single_threaded(model)
    with threadpool_limits(OPENMP_THREADS):
        started = time.perf_counter()
        model.fit(X_train, y_train)
        spent = time.perf_counter() - started
        if task == "classification":
            pred = aligned_proba(model, X_valid, classes)
        else:
            pred = model.predict(X_valid)
        wall = time.perf_counter() - started
    n_iter = getattr(model[-1], "n_iter_", None)  # boosting rounds (None for ridge)
    rounds = int(np.max(n_iter)) if n_iter is not None else None
    return pred, spent, save_seconds(model, save_scale), rounds, wall


def cross_validate(cand: Candidate, pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray,
                   folds: list, task: str, metric: str, classes: np.ndarray | None,
                   may_start_fold, final_rows: int | None = None, executor=None) -> None:
    """Fit the candidate on each fold, keeping out-of-fold predictions.

    `may_start_fold(seconds_per_fold, rounds_left)` is asked before each fold starts; when
    it says no, the candidate is marked skipped (it would not finish before the deadline,
    or a stop request came first). `rounds_left`: fold times still ahead on the wall clock
    (folds left, divided among the workers). `final_rows`: the rows its final refit may use
    (the save estimate is scaled to a model of that size). With an `executor` (see
    workers.py) the folds run in its worker processes, as many at once as it has workers.
    """
    oof = np.zeros((len(y), len(classes))) if task == "classification" else np.zeros(len(y))
    spent: list[float] = []  # fit seconds of each fold
    walls: list[float] = []  # fit + predict seconds: what a fold costs the schedule
    workers = getattr(executor, "_max_workers", 1) if executor is not None else 1
    pending: dict = {}
    upcoming = list(enumerate(folds))
    while upcoming or pending:
        while upcoming and len(pending) < workers:
            rounds_left = -(-len(upcoming) // workers)
            if not may_start_fold(float(np.mean(walls)) if walls else None, rounds_left):
                for future in pending.values():
                    future.cancel()
                cand.status, cand.error = "skipped", "stopped: out of time"
                return
            i, (train_idx, valid_idx) = upcoming.pop(0)
            args = (pipeline, X.iloc[train_idx], y[train_idx], X.iloc[valid_idx], task,
                    classes, (final_rows or len(train_idx)) / len(train_idx))
            if executor is None:
                pending[i] = _Done(fit_fold(*args))
            else:
                pending[i] = executor.submit(fit_fold, *args, one_thread=True)
        i = _first_done(pending)
        pred, seconds, save_s, rounds, wall = pending.pop(i).result()
        oof[folds[i][1]] = pred
        spent.append(seconds)
        walls.append(wall)
        cand.save_s = max(cand.save_s, save_s)
        if cand.family.style == "hgb" and rounds is not None:
            cand.iterations.append(rounds)
    if task == "classification":
        cand.cv_metrics = classification_metrics(y, oof, classes)
    else:
        cand.cv_metrics = regression_metrics(y, oof)
    cand.cv_score = score(cand.cv_metrics, metric)
    cand.fit_time_s = float(np.sum(spent))
    cand.fold_s = float(np.mean(walls))
    cand.oof = oof
    cand.status = "ok"


class _Done:
    """A finished result with the interface of a future (folds run in this process)."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def done(self) -> bool:
        return True

    def cancel(self) -> bool:
        return False


def _first_done(pending: dict) -> int:
    """Index of a finished fold, waiting for one; the lowest index when several are done
    (the order the results are read in never changes what they are)."""
    finished = [i for i, f in pending.items() if f.done()]
    if not finished:
        wait([f for f in pending.values()], return_when=FIRST_COMPLETED)
        finished = [i for i, f in pending.items() if f.done()]
    return min(finished)
