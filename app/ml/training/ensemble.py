"""Greedy ensemble selection (Caruana et al. 2004) over out-of-fold predictions."""

from __future__ import annotations

import numpy as np

from app.ml.training.metrics import classification_metrics, regression_metrics, score

ROUNDS = 25
# An ensemble must beat the best single model by at least this much (score units) to be kept.
MIN_GAIN = 1e-4


def select_weights(oofs: list[np.ndarray], y, task: str, metric: str,
                   classes=None) -> tuple[list[int], float]:
    """Counts of how often each model is picked (with replacement) and the ensemble's score."""

    def evaluate(pred):
        m = (classification_metrics(y, pred, classes) if task == "classification"
             else regression_metrics(y, pred))
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
    return counts, best_score
