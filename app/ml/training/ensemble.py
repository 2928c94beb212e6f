"""Greedy ensemble selection (Caruana et al. 2004) over out-of-fold predictions."""

from __future__ import annotations

import numpy as np

from app.ml.training.metrics import classification_metrics, regression_metrics, score

ROUNDS = 25
# An ensemble is kept when its out-of-fold score is at least the best single model's: on a
# tie the blend is preferred (it averages out the members' errors on unseen rows).
MIN_GAIN = 0.0
# Coarse metrics (accuracy, F1) tie often on small data; among tied blends the selection
# prefers the lower log loss (this weight keeps it a pure tie-breaker: < one row's worth).
TIE_BREAK = 1e-4
COARSE = {"accuracy", "balanced_accuracy", "f1_macro"}


def select_weights(oofs: list[np.ndarray], y, task: str, metric: str,
                   classes=None) -> tuple[list[int], float]:
    """Counts of how often each model is picked (with replacement) and the ensemble's score."""

    def metrics(pred):
        return (classification_metrics(y, pred, classes) if task == "classification"
                else regression_metrics(y, pred))

    def evaluate(pred):
        m = metrics(pred)
        if metric in COARSE:
            return score(m, metric) - TIE_BREAK * min(m["log_loss"], 10.0)
        return score(m, metric)

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
    return counts, score(metrics(total / sum(counts)), metric)
