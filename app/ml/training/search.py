"""The time-budgeted model search: cross-validate candidates, refit the best, report, track."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from app.ml.training.candidates import Candidate, Proposer, cross_validate, make_pipeline
from app.ml.training.errors import TrainingCancelled, TrainingFailed
from app.ml.training.families import FAMILIES, families_for, too_many_rows
from app.ml.training.finalize import finalize
from app.ml.training.metrics import LOWER_IS_BETTER, SE_METRICS, share_standard_error
from app.ml.training.preprocessing import category_cardinality
from app.ml.training.preview import IMBALANCE_RATIO, prepare
from app.ml.training.progress import ProgressReporter
from app.ml.training.refits import SAVE_SAFETY
from app.ml.training.request import SearchRequest, SearchResult, natural
from app.ml.training.workers import WORKERS, fold_executor

# Rows used for the search itself grow with the budget; the final refit may use more.
# (60 s -> 9,000 rows: a default forest or boosting fold then takes ~1-3 s on 2 busy cores).
ROWS_PER_BUDGET_SECOND = 150
MIN_SEARCH_ROWS, MAX_SEARCH_ROWS = 2_000, 30_000
# Rows for the rescue candidate when nothing finished in time (a cheap model on a sample).
RESCUE_ROWS = 2_000
# One-standard-error rule: family -> (parameter, +1 if smaller is more regularised).
# The SVM too: on breast_cancer (426 rows) it was tried 132 times, and its best C won CV by
# more than a standard error over logistic regression, then made 6 wrong test rows to 3.
REGULARISATION = {"logistic_regression": ("C", 1), "support_vector_machine": ("C", 1)}
# Families whose refit on all rows the final reserve plans for (best first).
FULL_REFIT_PLANNED = 3
# Boosting candidates other than the family's best whose out-of-fold predictions stay in
# the ensemble's library: a blend of boosting settings (losses, tree sizes, learning
# rates) beat the best one alone on the benchmark's larger regression sets (3-fold CV,
# 6 settings: txhousing R² 0.9471 -> 0.9494, test error 0.0471 -> 0.0460; bikeshare
# 0.9444 -> 0.9491, 0.0457 -> 0.0421), as AutoGluon blends its LightGBM variants.
RUNNERS_UP = 3
# Share of the budget always left for refitting, reporting and logging the kept models.
MIN_FINAL_SHARE, MAX_FINAL_SHARE = 0.25, 0.6


class _Clock:
    """Deadlines of one search; `now` is injectable so tests need no wall-clock timing."""

    def __init__(self, budget_s: float, now: Callable[[], float]):
        self.now, self.budget_s = now, budget_s
        self.started = now()
        self.deadline = self.started + budget_s
        self.final_reserve = MIN_FINAL_SHARE * budget_s

    @property
    def search_end(self) -> float:
        return self.deadline - self.final_reserve

    def left(self) -> float:
        return self.deadline - self.now()


def _split(X, y, task, test_size, seed):
    stratify = y if task == "classification" else None
    try:
        return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=stratify)
    except ValueError:  # too few rows per class to stratify
        return train_test_split(X, y, test_size=test_size, random_state=seed)


def _search_sample(X, y, task, budget_s, seed):
    cap = int(np.clip(budget_s * ROWS_PER_BUDGET_SECOND, MIN_SEARCH_ROWS, MAX_SEARCH_ROWS))
    if len(X) <= cap:
        return X, y
    Xs, _, ys, _ = _split(X, y, task, 1 - cap / len(X), seed)
    return Xs, ys


def _folds(y, task, seed) -> list:
    k = 5 if len(y) <= 5_000 else 3
    if task == "classification":
        smallest = int(pd.Series(y).value_counts().min())
        if smallest >= 2:
            splitter = StratifiedKFold(min(k, smallest), shuffle=True, random_state=seed)
            return list(splitter.split(np.zeros(len(y)), y))
    return list(KFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y))))


def _class_weight(task, y, metric) -> tuple[bool, str | None]:
    if task != "classification":
        return False, None
    counts = pd.Series(y).value_counts()
    imbalanced = counts.iloc[-1] / counts.iloc[0] < IMBALANCE_RATIO
    wants_balance = metric in ("balanced_accuracy", "f1_macro")
    return imbalanced, "balanced" if imbalanced and wants_balance else None


def _fold_estimate(cand: Candidate, per_fold: dict[str, float]) -> float | None:
    """Expected seconds for one fold of `cand` from its family's last measured fold."""
    known = per_fold.get(cand.family.name)
    if known is None:
        return None
    trees = cand.params.get("n_estimators")
    ref = per_fold.get(cand.family.name + ":trees")
    return known * (trees / ref if trees and ref else 1.0)


def run_search(df: pd.DataFrame, kinds: dict, request: SearchRequest, *,
               on_progress: Callable[[dict], None], should_stop: Callable[[], bool],
               tracker=None, now: Callable[[], float] = time.monotonic,
               workers: int = WORKERS) -> SearchResult:
    """Search models for `request` within its time budget and return the kept ones.

    `workers`: processes that cross-validate folds at once (see workers.py; 1 = here).

    Raises TrainingRejected (422) for an impossible request, TrainingCancelled when
    should_stop() turns true, TrainingFailed when no candidate succeeds.
    """
    clock = _Clock(request.time_budget_s, now)
    prep = prepare(df, kinds, request.target, request.task, request.exclude_columns)
    task, metric = prep.task, request.checked(prep.task, len(prep.X))
    greater = metric not in LOWER_IS_BETTER
    y_all = prep.y.to_numpy(dtype=object if prep.y.dtype == object else None)
    X_dev, X_test, y_dev, y_test = _split(prep.X, y_all, task, request.test_size, request.seed)
    X_search, y_search = _search_sample(X_dev, y_dev, task, request.time_budget_s, request.seed)
    X_search = X_search.reset_index(drop=True)
    classes = np.unique(y_dev) if task == "classification" else None
    folds = _folds(y_search, task, request.seed)
    imbalanced, default_cw = _class_weight(task, y_dev, metric)
    cardinality = category_cardinality(X_dev, prep.features)
    families = families_for(task, request.families, len(prep.X))
    for name in request.families or []:  # a family asked for by name and left out says why
        why = too_many_rows(FAMILIES[task][name], len(prep.X))
        if why:
            prep.warnings.append(f"{why}.")
    # On all rows: the kept models are refitted on the held-out rows too (Poisson and log
    # targets refuse a negative value).
    nonnegative = task == "regression" and bool(np.min(y_all) >= 0 and np.sum(y_all) > 0)
    proposer = Proposer(families, request.seed, len(X_search), imbalanced, default_cw,
                        nonnegative, metric)
    tags = {**request.tags, "target": request.target, "task": task}
    parent = tracker.start_job(f"train {request.target}", _job_params(request, task, metric),
                               tags) if tracker else None

    candidates: list[Candidate] = []
    best: dict[str, Candidate] = {}
    runners: list[Candidate] = []
    per_fold: dict[str, float] = {}
    out_of_time: set[str] = set()
    stopped_by_deadline = False

    def may_start_fold(mean_so_far, rounds_left, cand):
        if should_stop():
            return False
        estimate = mean_so_far if mean_so_far is not None else _fold_estimate(cand, per_fold)
        return now() + (estimate or 0.0) * rounds_left <= clock.search_end

    with ProgressReporter(on_progress, clock.started, request.time_budget_s, now) as progress:
        while request.max_candidates is None or len(candidates) < request.max_candidates:
            if should_stop():
                _cancel(tracker, parent)
            if now() >= clock.search_end:
                stopped_by_deadline = True
                break
            proposal = proposer.next(best, out_of_time)
            if proposal is None:
                break
            cand = Candidate(len(candidates), *proposal)
            progress.update(message=f"Trying {cand.family.label.lower()} "
                                    f"(candidate {cand.index + 1})")
            try:
                pipe = make_pipeline(cand.family, cand.params, request.seed, prep.features,
                                     cardinality, task, len(folds[0][0]))
                cross_validate(cand, pipe, X_search, y_search, folds, task, metric, classes,
                               lambda m, k, c=cand: may_start_fold(m, k, c), len(prep.X),
                               fold_executor(workers))
            except Exception as exc:  # a failing candidate is recorded and skipped
                cand.status, cand.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
            if should_stop():
                _cancel(tracker, parent)
            if cand.status == "skipped":
                out_of_time.add(cand.family.name)
                if out_of_time >= {f.name for f in families}:
                    stopped_by_deadline = True
                    break
                continue
            candidates.append(cand)
            if cand.status == "ok":
                _remember(cand, best, per_fold, runners)
                clock.final_reserve = _final_reserve(best, runners, clock, len(X_dev),
                                                     len(X_test), folds, tracker,
                                                     request.refit_full)
            if tracker:
                tracker.log_candidate(parent, cand.name, _cand_params(cand),
                                      _cand_metrics(cand), {**tags, "status": cand.status,
                                                            "family": cand.family.name})
            top = max(best.values(), key=lambda c: c.cv_score, default=None)
            progress.update(candidates_done=len(candidates),
                            best_score=natural(top.cv_score, metric, greater) if top else None)
        _one_standard_error(candidates, best, metric, len(y_search))
        if not best and not should_stop():
            rescue = _rescue(len(candidates), families, request, prep, cardinality, task,
                             metric, classes, X_search, y_search, should_stop)
            if rescue is not None:
                candidates.append(rescue)
                if rescue.status == "ok":
                    best[rescue.family.name] = rescue
                    X_search, y_search = X_search.iloc[:RESCUE_ROWS], y_search[:RESCUE_ROWS]
                    folds = _folds(y_search, task, request.seed)
        if not best:
            errors = {c.name: c.error for c in candidates if c.error}
            if tracker:
                tracker.end_job(parent, "FAILED", {})
            raise TrainingFailed("No model could be trained: every candidate failed"
                                 if candidates else "No candidate finished within the budget.",
                                 {"candidates": errors})
        progress.update(message="Refitting and evaluating the best models")
        result = finalize(
            best=best, runners=_leading_runners(best, runners), task=task, metric=metric,
            prep=prep, request=request,
            data=(X_dev, y_dev, X_test, y_test, X_search, y_search, folds),
            classes=classes, cardinality=cardinality, clock=clock, should_stop=should_stop,
            tracker=tracker, parent=parent, tags=tags, progress=progress,
            executor=fold_executor(workers))
        result.candidates = [_cand_record(c, metric, greater) for c in candidates]
        result.class_weight = "balanced" if imbalanced else None
        result.stopped_by_deadline = stopped_by_deadline
        result.elapsed_s = round(now() - clock.started, 2)
        progress.update(message="Done")
        progress.send(fraction=1.0)
    return result


def _rescue(index, families, request, prep, cardinality, task, metric, classes, X, y, should_stop):
    """Nothing finished in time: cross-validate the cheapest family on a small sample, so the
    job still ends with a model (the busy-machine case, or a budget far too small)."""
    cheap = [f for f in families if f.style != "hgb"] or families
    family = min(cheap, key=lambda f: {"decision_tree": 0, "logistic_regression": 1,
                                       "ridge": 1}.get(f.name, 2))
    Xr, yr = X.iloc[:RESCUE_ROWS].reset_index(drop=True), y[:RESCUE_ROWS]
    cand = Candidate(index, family, dict(family.defaults))
    try:
        pipe = make_pipeline(family, cand.params, request.seed, prep.features, cardinality,
                             task, len(Xr))
        cross_validate(cand, pipe, Xr, yr, _folds(yr, task, request.seed), task, metric,
                       classes, lambda *_: not should_stop())
    except Exception as exc:
        cand.status, cand.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
    return cand


def _cancel(tracker, parent):
    if tracker:
        tracker.end_job(parent, "KILLED", {})
    raise TrainingCancelled("Training was cancelled.")


def _remember(cand: Candidate, best: dict, per_fold: dict, runners: list[Candidate]) -> None:
    name = cand.family.name
    per_fold[name] = cand.fold_s
    if "n_estimators" in cand.params:
        per_fold[name + ":trees"] = cand.params["n_estimators"]
    # Only the best of each family keeps its out-of-fold predictions (for the ensemble), and
    # boosting's runners-up (see RUNNERS_UP); linear candidates keep theirs for the
    # one-standard-error choice (small arrays).
    keep = cand.family.name in REGULARISATION
    old = best.get(name)
    if old is None or cand.cv_score > old.cv_score:
        best[name] = cand
        loser = old
    else:
        loser = cand
    if loser is not None and loser.family.style == "hgb":
        runners.append(loser)
        runners.sort(key=lambda c: (-c.cv_score, c.index))
        loser = runners.pop() if len(runners) > RUNNERS_UP else None
    if loser is not None and not keep:
        loser.oof = None


def _one_standard_error(candidates: list, best: dict, metric: str, n_rows: int) -> None:
    """Linear families: keep the most regularised candidate whose CV accuracy is within one
    standard error of the family's best (Breiman's rule; on small data the 'best' C often
    wins its folds by a row or two and then generalises worse)."""
    if metric not in SE_METRICS:
        return
    for name, (param, stronger) in REGULARISATION.items():
        top = best.get(name)
        if top is None:
            continue
        se = share_standard_error(top.cv_metrics[metric], n_rows)
        close = [c for c in candidates if c.family.name == name and c.status == "ok"
                 and c.oof is not None and c.cv_score >= top.cv_score - se]
        pick = min(close, key=lambda c: (stronger * c.params[param], c.index))
        for c in candidates:
            if c.family.name == name and c is not pick:
                c.oof = None
        best[name] = pick


def _leading_runners(best: dict, runners: list[Candidate]) -> list[Candidate]:
    """Boosting's runners-up, when boosting leads the search (else they would only cost)."""
    lead = max(best.values(), key=lambda c: c.cv_score, default=None)
    return runners if lead is not None and lead.family.style == "hgb" else []


def _final_reserve(best, runners, clock, n_dev, n_test, folds, tracker, refit_full) -> float:
    """Seconds to keep for the final phase: refits scaled to the dev rows (and, with
    refit_full, again to all rows), reporting, and (when tracking) saving the models.
    Each refit is planned from its own candidate's fold times, one after another: when the
    workers fit them at once (refits.run_fits), the time saved goes to the refits on all
    rows (randhie, planned as run at once: the search took 45 s of 60 and the ensemble
    was no longer refitted on all rows, test error 0.77 -> 0.83)."""
    fold_rows, n_folds = len(folds[0][0]), len(folds)
    planned = [*best.values(), *_leading_runners(best, runners)]

    def refit(cand, rows):
        return cand.fit_time_s / n_folds * rows / fold_rows

    refits = sum(refit(c, n_dev) for c in planned)
    if refit_full:  # the full refit is planned for the likely ensemble members only
        top = sorted(planned, key=lambda c: -c.cv_score)[:FULL_REFIT_PLANNED]
        refits += sum(refit(c, n_dev + n_test) for c in top)
    wanted = 1.3 * refits + 0.5 * len(best) + 1.0
    if tracker is not None:
        wanted += SAVE_SAFETY * max(c.save_s for c in best.values())
    share = np.clip(wanted / clock.budget_s, MIN_FINAL_SHARE, MAX_FINAL_SHARE)
    return float(share * clock.budget_s)


def _job_params(request: SearchRequest, task: str, metric: str) -> dict:
    return {"target": request.target, "task": task, "metric": metric,
            "time_budget_s": request.time_budget_s, "seed": request.seed,
            "max_candidates": request.max_candidates,
            "families": ",".join(request.families or []) or "all",
            "exclude_columns": ",".join(request.exclude_columns or [])}


def _cand_params(cand: Candidate) -> dict:
    return {"family": cand.family.name, **{k: str(v) for k, v in cand.params.items()}}


def _cand_metrics(cand: Candidate) -> dict:
    out = {f"cv_{k}": v for k, v in cand.cv_metrics.items() if np.isfinite(v)}
    out["fit_time_s"] = cand.fit_time_s
    return out


def _cand_record(cand: Candidate, metric: str, greater: bool) -> dict:
    return {"name": cand.name, "family": cand.family.name, "algorithm": cand.family.label,
            "params": cand.params, "status": cand.status, "error": cand.error,
            "cv_score": natural(cand.cv_score, metric, greater),
            "cv_metrics": cand.cv_metrics, "fit_time_s": round(cand.fit_time_s, 3)}
