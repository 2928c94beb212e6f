"""Metrics, the naive baseline and the plain-language verdict comparing the two."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
REGRESSION_METRICS = ("r2", "rmse", "mae")
DEFAULT_METRIC = {"classification": "accuracy", "regression": "r2"}
LOWER_IS_BETTER = {"log_loss", "rmse", "mae"}


def metrics_for(task: str) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def classification_metrics(y_true, proba: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    """All classification metrics from class probabilities (columns in `classes` order)."""
    y_true = np.asarray(y_true)
    pred = classes[np.argmax(proba, axis=1)]
    proba = np.clip(proba, 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    out = {
        "accuracy": skm.accuracy_score(y_true, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, pred),
        "f1_macro": skm.f1_score(y_true, pred, average="macro", zero_division=0),
        "log_loss": skm.log_loss(y_true, proba, labels=classes),
    }
    try:
        if len(classes) == 2:
            out["roc_auc"] = skm.roc_auc_score(y_true == classes[1], proba[:, 1])
        else:
            out["roc_auc"] = skm.roc_auc_score(
                y_true, proba, multi_class="ovr", average="macro", labels=classes
            )
    except ValueError:  # a class absent from y_true
        out["roc_auc"] = float("nan")
    return {k: float(v) for k, v in out.items()}


def regression_metrics(y_true, pred) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=float)
    pred = np.asarray(pred, dtype=float)
    return {
        "r2": float(skm.r2_score(y_true, pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, pred))),
        "mae": float(skm.mean_absolute_error(y_true, pred)),
    }


# Metrics that are a share of rows, whose noise on n rows is a binomial standard error.
SE_METRICS = {"accuracy", "balanced_accuracy"}


def share_standard_error(share: float, n_rows: int) -> float:
    """Standard error of a share of rows measured on `n_rows` (Agresti-Coull: sensible even
    when the share is 0 or 1)."""
    p = (share * n_rows + 2) / (n_rows + 4)
    return float(np.sqrt(p * (1 - p) / (n_rows + 4)))


def score(metrics: dict[str, float], metric: str) -> float:
    """Higher-is-better version of `metric`, used to rank candidates."""
    value = metrics[metric]
    if np.isnan(value):
        return -np.inf
    return -value if metric in LOWER_IS_BETTER else value


def error_of(ranked: float, metric: str) -> float:
    """A `score` as an error (0 is perfect): the loss itself for log loss, RMSE and MAE,
    1 - score for the others (accuracy, ROC AUC, R², ...)."""
    return -ranked if metric in LOWER_IS_BETTER else 1.0 - ranked


def baseline_metrics(task: str, y_train, y_test, classes=None) -> dict[str, float]:
    """Metrics of the naive model: predict the majority class (with training frequencies) or mean."""
    if task == "classification":
        y_train = np.asarray(y_train)
        freq = np.array([(y_train == c).mean() for c in classes])
        proba = np.tile(freq, (len(y_test), 1))
        return classification_metrics(y_test, proba, np.asarray(classes))
    mean = float(np.mean(np.asarray(y_train, dtype=float)))
    return regression_metrics(y_test, np.full(len(y_test), mean))


def verdict(task: str, metric: str, model: dict[str, float], baseline: dict[str, float]) -> str:
    """One sentence saying whether the model beats guessing, in the user's terms."""
    if task == "classification":
        acc, base = model["accuracy"], baseline["accuracy"]
        lead = (f"The model is right {acc:.0%} of the time on rows it never saw; always "
                f"guessing the most common class would be right {base:.0%}.")
        gain = acc - base
        bal = model["balanced_accuracy"] - baseline["balanced_accuracy"]
        if gain >= 0.05 or bal >= 0.1:
            return lead + " It clearly beats guessing."
        if gain > 0.0 or bal > 0.02:
            return lead + " It beats guessing, but only slightly."
        return lead + " It does not beat guessing: the columns may not predict the target."
    r2 = model["r2"]
    lead = (f"On rows it never saw, the model's typical error is {model['mae']:.4g} against "
            f"{baseline['mae']:.4g} when always predicting the average; it explains "
            f"{max(r2, 0):.0%} of the variation.")
    if r2 >= 0.5:
        return lead + " It clearly beats the average."
    if r2 > 0.05:
        return lead + " It beats the average, but leaves most of the variation unexplained."
    return lead + " It does not beat the average: the columns may not predict the target."
