"""Greedy ensemble selection (Caruana et al. 2004) over out-of-fold predictions."""

from __future__ import annotations

import numpy as np

from app.ml.training.metrics import (
    REGRESSION_METRICS,
    classification_metrics,
    regression_metrics,
    score,
)

ROUNDS = 25
# An ensemble is kept when its out-of-fold score is at least the best single model's: on a
# tie the blend is preferred (it averages out the members' errors on unseen rows). For the
# PAIRED_METRICS it must win by PAIRED_SES standard errors of the difference (see
# paired_standard_error), and for accuracy by at least one row.
# Regression too: on diabetes (264 search rows, 5 train/test splits of bench/automl) ridge
# led and the blend (ridge with a forest or boosting, weights in quarters) won CV by 0.55-1.5
# of these errors; its test error was worse than ridge's alone in 4 of 5 splits (mean
# 0.585 against 0.573). Blends on thousands of rows won by 2.5-8 (bikeshare, txhousing,
# randhie, splits 0-2) and are kept.
MIN_GAIN = 0.0
PAIRED_SES = 2.0
PAIRED_METRICS = {"accuracy", "balanced_accuracy", *REGRESSION_METRICS}
# Coarse metrics (accuracy, F1) tie often on small data; among tied blends the selection
# prefers the lower log loss (this weight keeps it a pure tie-breaker: < one row's worth).
TIE_BREAK = 1e-4
COARSE = {"accuracy", "balanced_accuracy", "f1_macro"}


# Coarse metrics on a few hundred rows overfit the hill-climb: a blend that wins its
# out-of-fold rows by one or two of them is mostly chance. For those the selection is bagged
# (Caruana et al. 2006): run on BAGS random halves of the rows, the weights averaged.
BAGS = 20
BAG_FRACTION = 0.5
# A member with less of the bagged weight than this was picked in a bag or two: it is
# dropped and the others' weights renormalised, so the blend's refits and predictions do not
# pay for it. diamonds_cut: six members -> three (weights 0.007-0.02 dropped), test error
# 0.1995 -> 0.2001 refitted on all rows, and the three could be refitted in the time left
# where the six could not (0.2047 on the dev rows alone).
MIN_WEIGHT = 0.05


def select_weights(oofs: list[np.ndarray], y, task: str, metric: str,
                   classes=None, seed: int = 0) -> tuple[list[float], float]:
    """Each model's weight in the blend (summing to 1) and the blend's out-of-fold score."""
    y = np.asarray(y)
    if metric in COARSE:
        codes = np.searchsorted(classes, y)  # classes are sorted (np.unique)
        rng = np.random.default_rng(seed)
        weights = np.zeros(len(oofs))
        for _ in range(BAGS):
            rows = np.sort(rng.choice(len(y), max(2, int(BAG_FRACTION * len(y))), replace=False))
            counts = _greedy([o[rows] for o in oofs], _coarse_scorer(codes[rows], len(classes), metric))
            weights += np.asarray(counts) / sum(counts)
        weights = _pruned(weights / BAGS)
    else:
        def evaluate(pred):
            m = (classification_metrics(y, pred, classes) if task == "classification"
                 else regression_metrics(y, pred))
            return score(m, metric)

        counts = _greedy(oofs, evaluate)
        weights = np.asarray(counts) / sum(counts)
    blend = sum(w * o for w, o in zip(weights, oofs, strict=True))
    final = (classification_metrics(y, blend, classes) if task == "classification"
             else regression_metrics(y, blend))
    return [float(w) for w in weights], score(final, metric)


def paired_standard_error(pred_a: np.ndarray, pred_b: np.ndarray, y, classes,
                          metric: str) -> float:
    """Standard error of the difference in `metric` between two models' predictions of the
    same rows (class probabilities, or numbers for regression), in the metric's own units.

    Paired, as in McNemar's test: only the rows where one is right and the other wrong
    count. A blend and its best member agree on most rows, so this is far smaller than the
    standard error of either score: on diamonds_cut's 9,000 search rows 0.0018 against
    0.0045, and a blend 0.004 ahead (2,767 -> 2,719 wrong test rows of 13,485) was refused
    when it had to win by the latter. On a few hundred rows two such errors still refuse a
    blend that wins by a row (breast_cancer: 6 wrong test rows -> 8 had it been kept).
    For regression the rows' differences are in squared (r2, rmse) or absolute (mae) error;
    see PAIRED_METRICS.
    """
    if metric in REGRESSION_METRICS:
        return _paired_regression_error(pred_a, pred_b, y, metric)
    codes = np.searchsorted(classes, np.asarray(y))  # classes are sorted (np.unique)
    diff = (np.argmax(pred_a, axis=1) == codes).astype(float) \
        - (np.argmax(pred_b, axis=1) == codes)
    if metric == "balanced_accuracy":  # each row weighs 1 / (its class's rows x classes)
        counts = np.bincount(codes, minlength=len(classes))
        diff = diff * len(codes) / (np.count_nonzero(counts) * counts[codes])
    return float(diff.std() / np.sqrt(len(codes)))


def _paired_regression_error(pred_a, pred_b, y, metric: str) -> float:
    y = np.asarray(y, dtype=float)
    err_a, err_b = y - np.asarray(pred_a, dtype=float), y - np.asarray(pred_b, dtype=float)
    if metric == "mae":  # the difference in MAE is the mean of these
        diff = np.abs(err_b) - np.abs(err_a)
    else:
        diff = err_b ** 2 - err_a ** 2
        if metric == "r2":  # R² differs by the mean of these over the target's variance
            diff = diff / max(float(np.var(y)), 1e-12)
        else:  # RMSE, to first order: d(MSE) / (2 RMSE)
            diff = diff / max(2 * float(np.sqrt(np.mean(err_b ** 2))), 1e-12)
    return float(diff.std() / np.sqrt(len(y)))


def _pruned(weights: np.ndarray) -> np.ndarray:
    """Weights below MIN_WEIGHT set to zero, the rest renormalised to sum to 1."""
    kept = np.where(weights >= MIN_WEIGHT, weights, 0.0)
    return kept / kept.sum() if kept.sum() > 0 else weights


def _coarse_scorer(codes: np.ndarray, n_classes: int, metric: str):
    """A coarse metric of class probabilities, less TIE_BREAK x log loss (as
    app.ml.training.metrics computes both, in numpy alone: it runs thousands of times)."""
    rows = np.arange(len(codes))
    true_counts = np.bincount(codes, minlength=n_classes)

    def evaluate(proba: np.ndarray) -> float:
        pred = np.argmax(proba, axis=1)
        hit = pred == codes
        if metric == "accuracy":
            value = hit.mean()
        else:
            tp = np.bincount(codes[hit], minlength=n_classes)
            if metric == "balanced_accuracy":
                present = true_counts > 0
                value = np.mean(tp[present] / true_counts[present])
            else:  # f1_macro over the labels present in truth or prediction, 0 where undefined
                pred_counts = np.bincount(pred, minlength=n_classes)
                labels = (true_counts + pred_counts) > 0
                f1 = 2 * tp[labels] / (true_counts[labels] + pred_counts[labels])
                value = np.mean(f1)
        p = np.clip(proba, 1e-15, 1.0)
        log_loss = -np.mean(np.log(p[rows, codes] / p.sum(axis=1)))
        return float(value) - TIE_BREAK * min(float(log_loss), 10.0)

    return evaluate


def _greedy(oofs: list[np.ndarray], evaluate) -> list[int]:
    """Greedy forward selection with replacement: how often each model is picked."""
    counts = [0] * len(oofs)
    total = np.zeros_like(oofs[0])
    best_score = -np.inf
    for step in range(1, ROUNDS + 1):
        trial = [evaluate((total + o) / step) for o in oofs]
        pick = int(np.argmax(trial))
        if trial[pick] < best_score - 1e-12 and step > 2:
            break
        counts[pick] += 1
        total = total + oofs[pick]
        best_score = max(best_score, trial[pick])
    return counts
