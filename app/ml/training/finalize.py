"""After the search: refit each family's best, maybe ensemble them, evaluate, log, register."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from app.ml.training.candidates import OPENMP_THREADS, single_threaded
from app.ml.training.costs import save_seconds
from app.ml.training.ensemble import (
    MIN_GAIN,
    PAIRED_METRICS,
    PAIRED_SES,
    paired_standard_error,
    select_weights,
)
from app.ml.training.errors import TrainingCancelled
from app.ml.training.families import ENSEMBLE
from app.ml.training.metrics import (
    LOWER_IS_BETTER,
    SE_METRICS,
    baseline_metrics,
    score,
    share_standard_error,
    verdict,
)
from app.ml.training.refits import (
    SAVE_SAFETY,
    FitJob,
    one_refit_seconds,
    refit_all_seconds,
    refit_dev,
    run_fits,
    workers_of,
)
from app.ml.training.report import charts, held_out, input_schema, permutation_importance
from app.ml.training.request import KeptModel, SearchResult, natural
from app.ml.training.transformers import WeightedEnsemble

INPUT_EXAMPLE_ROWS = 5
# What the final steps may run past the budget (the issue allows it + 10 % + 5 s): the
# saves after the best's, and the best's own refit on all rows, whose estimate is an upper
# bound (0.4-0.8x of it measured). diamonds_cut, 28 Nov: the ensemble's estimate (14.3 s)
# missed the time left (14.2 s) by 0.1 s, so the model people get stayed on 80 % of the rows
# (test error 0.2036; 0.1994 refitted with this slack, same split, ended at 59.4 s of 60).
SLACK_SHARE, SLACK_S = 0.05, 1.0


def slack(budget_s: float) -> float:
    """Seconds the final steps may run past a budget of `budget_s`."""
    return SLACK_SHARE * budget_s + SLACK_S


# The simplest families: with a metric that counts rows, the best of them is chosen over a
# leader whose cross-validated score it trails by at most one standard error.
SIMPLEST = ("logistic_regression",)


def _ensemble(pool, oofs, y_search, task, metric, classes, seed=0):
    """Greedy selection over the refitted models in `pool` (name -> KeptModel) whose
    out-of-fold predictions are in `oofs`; None unless the blend wins (see MIN_GAIN)."""
    names = [n for n in pool if oofs.get(n) is not None]
    if len(names) < 2:
        return None
    weights, ens_score = select_weights([oofs[n] for n in names], y_search, task, metric,
                                        classes, seed)
    leader = max(names, key=lambda n: pool[n].cv_score)
    top = pool[leader].cv_score
    used = [(n, w) for n, w in zip(names, (round(w, 4) for w in weights), strict=True) if w > 0]
    # The blend must win by more than chance would on these rows, compared with the leader
    # row by row (see ensemble.paired_standard_error), and on accuracy by a row at least.
    gain = MIN_GAIN
    if metric in PAIRED_METRICS:
        blend = sum(w * oofs[n] for n, w in zip(names, weights, strict=True))
        gain = PAIRED_SES * paired_standard_error(blend, oofs[leader], y_search, classes,
                                                  metric)
        if metric in SE_METRICS:
            gain = max(gain, 1.0 / len(y_search))
    if len(used) < 2 or ens_score < top + gain - 1e-12:
        return None
    model = WeightedEnsemble([pool[n].pipeline for n, _ in used], [c for _, c in used], task)
    model.fit(None)
    algorithms = Counter(pool[n].algorithm.lower() for n, _ in used)
    label = "Weighted ensemble of " + ", ".join(
        a if k == 1 else f"{a} ({k} settings)" for a, k in algorithms.items())
    return KeptModel(ENSEMBLE, label, model, {n: c for n, c in used}, ens_score, {},
                     round(sum(pool[n].fit_time_s for n, _ in used), 3),
                     trained_rows=max(pool[n].trained_rows for n, _ in used))


def _simplest_first(order: list[KeptModel], metric: str, n_rows: int):
    """Breiman's one-standard-error rule across families, as within logistic regression for
    its C: on a few hundred rows the CV leader often wins by a row or two of chance, and the
    linear model then generalises better (5 train/test splits of oj: 237 wrong test rows of
    the CV leader, 225 of this choice; breast_cancer 28 -> 27; penguins, digits unchanged).
    Returns the order with the chosen model first, and a note saying why (or None)."""
    if metric not in SE_METRICS or not order or order[0].family in SIMPLEST:
        return order, None
    top = order[0]
    se = share_standard_error(top.cv_score, n_rows)
    pick = next((m for m in order if m.family in SIMPLEST
                 and m.cv_score >= top.cv_score - se - 1e-12), None)
    if pick is None:
        return order, None
    note = (f"{pick.algorithm} was chosen over {top.algorithm}: its cross-validated {metric} "
            f"({pick.cv_score:.4f} against {top.cv_score:.4f}) is within one standard error "
            f"({se:.4f}) on {n_rows:,} rows, and the simpler model is the safer bet on new rows.")
    return [pick] + [m for m in order if m is not pick], note


def _evaluate(order, X_test, y_test, task, metric, classes, base, seed, clock, keep: float):
    """Held-out metrics, verdict and charts for every kept model, then importance best-first
    while more than `keep` seconds (what the steps after need) are left."""
    greater = metric not in LOWER_IS_BETTER
    per_row = {}
    for model in order:
        started = time.perf_counter()
        model.test_metrics, pred = held_out(model.pipeline, X_test, y_test, task, classes)
        per_row[model.family] = (time.perf_counter() - started) / max(len(X_test), 1)
        model.test_score = natural(score(model.test_metrics, metric), metric, greater)
        model.baseline = base
        model.verdict = verdict(task, metric, model.test_metrics, base)
        model.charts = charts(y_test, pred, task, classes, seed)
    for model in order:  # best first: importance is dropped for the others if time runs out
        model.feature_importance = permutation_importance(
            model.pipeline, X_test, y_test, task, metric, classes, seed,
            deadline=clock.deadline - keep, seconds_per_row=per_row[model.family])


def _refit_full(order, kept, data, clock, reserve, should_stop, progress,
                tracked=False, executor=None) -> None:
    """Refit the kept models on all rows (dev + held-out) with the same settings and weights.

    The held-out metrics were measured before (they describe the model fitted on the dev
    rows). Best first; a model whose estimated refit does not fit before `deadline - reserve`
    keeps its dev-rows fit (`refit_note` says why). An ensemble is refitted through its
    members, several at once when the `executor` has workers (see refits.run_fits), and
    when they do not all fit, through those that do (see `_affordable`).
    """
    X_dev, y_dev, X_test, y_test = data
    X_all = pd.concat([X_dev, X_test])
    y_all = np.concatenate([np.asarray(y_dev), np.asarray(y_test)])
    n_all, workers = len(X_all), workers_of(executor)
    fresh: dict[str, object] = {}
    # When tracked, the saves of the models after the best (the best's is in `reserve`)
    # come after these refits: a refit must leave their time (big.py --mlflow: the extra
    # trees' 11 s refit on 100,000 rows left none to save them).
    saves_ahead = SAVE_SAFETY * sum(save_seconds(m.pipeline) for m in order[1:]) \
        if tracked else 0.0
    for i, model in enumerate(order):
        members = _members(model)
        todo = [n for n in members if n not in fresh]
        save_growth = SAVE_SAFETY * (save_seconds(model.pipeline, n_all / max(
            model.trained_rows, 1)) - save_seconds(model.pipeline)) if tracked else 0.0
        estimate = refit_all_seconds(todo, kept, n_all, workers) + save_growth
        # The best's refit may use the slack: it is what the user gets.
        limit = clock.deadline - reserve - saves_ahead + (slack(clock.budget_s) if i == 0 else 0)
        note = ""
        if clock.now() + estimate > limit:
            note = f"about {estimate:.1f} s did not fit in the time left"
            todo = _affordable(model, todo, kept, n_all, workers,
                               limit - clock.now() - save_growth)
            if not todo and not any(n in fresh for n in members):  # else: free to swap in
                model.refit_note = f"not refitted on all {n_all:,} rows: {note}"
                continue
        if todo:
            progress.update(message=f"Refitting {model.algorithm.lower()} on all rows")
        jobs = [FitJob(n, kept[n].pipeline, n_all, one_refit_seconds(kept[n], n_all))
                for n in todo]
        fits = run_fits(jobs, X_all, y_all, executor, should_stop)
        if fits is None:
            model.refit_note = f"not refitted on all {n_all:,} rows: the job was stopped"
            continue
        fresh.update({n: (pipe, round(seconds, 3)) for n, (pipe, seconds) in fits.items()})
        if model.family == ENSEMBLE:
            old = dict(zip(members, model.pipeline.members, strict=True))
            new = {n: fresh.get(n, (old[n], kept[n].fit_time_s)) for n in members}
            model.pipeline = WeightedEnsemble([new[n][0] for n in members],
                                              list(model.pipeline.weights), model.pipeline.task)
            model.pipeline.fit(None)
            model.fit_time_s = round(sum(new[n][1] for n in members), 3)
        else:
            model.pipeline, model.fit_time_s = fresh[model.family]
        done = [n for n in members if n in fresh]
        model.trained_rows, model.refit_full = n_all, len(done) == len(members)
        if not model.refit_full:
            share = sum(model.params[n] for n in done) / sum(model.params.values())
            model.refit_note = (f"refitted on all {n_all:,} rows only in part: {len(done)} of "
                                f"{len(members)} members ({share:.0%} of the weight); for all "
                                f"of them {note}")


def _affordable(model: KeptModel, todo: list[str], kept: dict, n_all: int, workers: int,
                room: float) -> list[str]:
    """The members of an ensemble to refit on all rows when all of them do not fit in
    `room` seconds: heaviest weight first, each that still fits. The others keep their fit
    on the dev rows; a blend with its heaviest members refitted beats one with none
    (diamonds_cut: the ensemble's refit on all rows, worth about 0.004 of test error, often
    missed the time left by half, and its two heaviest of five members had 71 % of the
    weight)."""
    if model.family != ENSEMBLE:
        return []
    chosen: list[str] = []
    for name in sorted(todo, key=lambda n: -model.params[n]):
        if refit_all_seconds([*chosen, name], kept, n_all, workers) <= room:
            chosen.append(name)
    return [n for n in todo if n in chosen]


def _refit_warning(model: KeptModel, n_all: int) -> str:
    if model.trained_rows == n_all:  # an ensemble refitted in part
        return f"{model.algorithm} was {model.refit_note}; the others stay fitted on fewer rows."
    return (f"{model.algorithm} was {model.refit_note}; it stays fitted on the "
            f"{model.trained_rows:,} rows its held-out figures describe.")


def _members(model: KeptModel) -> list[str]:
    return list(model.params) if model.family == ENSEMBLE else [model.family]


def finalize(*, best, runners, task, metric, prep, request, data, classes, cardinality, clock,
             should_stop, tracker, parent, tags, progress, executor=None) -> SearchResult:
    X_dev, y_dev, X_test, y_test, _X_search, y_search, _folds = data
    greater = metric not in LOWER_IS_BETTER
    ranked = sorted(best.values(), key=lambda c: -c.cv_score)
    later = 1.0 + 0.3 * len(ranked) + (SAVE_SAFETY * ranked[0].save_s if tracker else 0.0)
    kept = refit_dev(ranked, data, request, prep, cardinality, task, clock, should_stop,
                     progress, later, tracked=tracker is not None, executor=executor)
    if should_stop():
        if tracker:
            tracker.end_job(parent, "KILLED", {})
        raise TrainingCancelled("Training was cancelled.")
    # Runners-up are extras: they also leave the time to save every leaderboard model.
    saves = SAVE_SAFETY * sum(c.save_s for c in ranked[1:]) if tracker else 0.0
    extra = refit_dev(runners, data, request, prep, cardinality, task, clock, should_stop,
                      progress, later + saves, runners=True, tracked=tracker is not None,
                      executor=executor) if kept else {}
    pool = {**kept, **extra}  # the ensemble's library; only `kept` is on the leaderboard
    oofs = {**{n: best[n].oof for n in kept}, **{c.name: c.oof for c in runners}}
    ens = _ensemble(pool, oofs, y_search, task, metric, classes, request.seed)
    if ens is not None:
        kept[ENSEMBLE] = ens
    base = baseline_metrics(task, y_dev, y_test, classes)
    order, chosen_note = _simplest_first(sorted(kept.values(), key=lambda m: -m.cv_score),
                                         metric, len(y_search))
    progress.update(message="Measuring on the held-out rows")
    reserve = 1.0 + (SAVE_SAFETY * save_seconds(order[0].pipeline) if tracker else 0.0)
    # Importance must not eat the time the best model's refit on all rows needs.
    n_all = len(X_dev) + len(X_test)
    refit_s = refit_all_seconds(_members(order[0]), pool, n_all, workers_of(executor)) \
        if request.refit_full else 0.0
    with threadpool_limits(OPENMP_THREADS):
        _evaluate(order, X_test, y_test, task, metric, classes, base, request.seed, clock,
                  keep=reserve + refit_s)
    if request.refit_full:
        _refit_full(order, pool, (X_dev, y_dev, X_test, y_test), clock, reserve, should_stop,
                    progress, tracked=tracker is not None, executor=executor)
    for model in order:
        single_threaded(model.pipeline)
    example = X_dev.head(INPUT_EXAMPLE_ROWS)
    result = SearchResult(
        task=task, reason=prep.reason, metric=metric, greater_is_better=greater,
        leaderboard=[_row(m, metric, greater) for m in order], models=kept,
        best_family=order[0].family, features=input_schema(X_dev, prep.features),
        excluded=prep.excluded, classes=[_plain(c) for c in classes] if task ==
        "classification" else None, class_weight=None, warnings=list(prep.warnings),
        candidates=[], n_train=len(X_dev), n_test=len(X_test),
        dropped_missing_target=prep.dropped_missing_target, elapsed_s=0.0,
        stopped_by_deadline=False, parent_run_id=parent, input_example=example)
    result.warnings += [chosen_note] if chosen_note else []
    result.warnings += [_refit_warning(m, n_all) for m in order if m.refit_note]
    if tracker:
        _track(tracker, result, order, example, parent, tags, request, clock, progress)
    return result


def _track(tracker, result, order, example, parent, tags, request, clock, progress):
    """Log each kept model best-first (later ones only if they fit the budget's slack), then
    register the best. The estimate is calibrated on the first model's real save time."""
    progress.update(message="Saving the models")
    late = clock.deadline + slack(clock.budget_s)
    calibration = 1.0
    for i, model in enumerate(order):
        estimate = save_seconds(model.pipeline) * calibration
        if i and clock.now() + estimate > late:
            result.warnings.append(f"{model.algorithm} was not saved: the budget ran out.")
            continue
        metrics = {f"test_{k}": v for k, v in model.test_metrics.items() if np.isfinite(v)}
        metrics["cv_score"] = natural(model.cv_score, result.metric, result.greater_is_better)
        started = clock.now()
        model.run_id, model.model_uri = tracker.log_model(
            parent, model.family, model.pipeline, example, metrics,
            {"family": model.family, **{k: str(v) for k, v in model.params.items()}},
            {**tags, "algorithm": model.algorithm})
        if i == 0:
            calibration = max(0.5, (clock.now() - started) / max(estimate, 0.1))
    result.models = {n: m for n, m in result.models.items() if m.model_uri}
    result.leaderboard = [r for r in result.leaderboard if r["family"] in result.models]
    best = result.best
    if request.registered_name:
        result.registered_name = request.registered_name
        result.registered_version = tracker.register(best.model_uri, request.registered_name)
    tracker.end_job(parent, "FINISHED", {"best_test_score": best.test_score or 0.0,
                                         "best_cv_score": natural(best.cv_score, result.metric,
                                                                  result.greater_is_better)})


def _row(m: KeptModel, metric: str, greater: bool) -> dict:
    return {"family": m.family, "algorithm": m.algorithm,
            "cv_score": natural(m.cv_score, metric, greater), "test_score": m.test_score,
            "fit_time_s": m.fit_time_s, "metrics": m.test_metrics}


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
