"""What the user sees about a kept model: held-out metrics, charts, feature importance, schema."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, roc_curve

from app.ml.training.candidates import aligned_proba
from app.ml.training.metrics import classification_metrics, regression_metrics, score

CHART_POINTS = 300
ROC_POINTS = 100
MAX_ALLOWED_VALUES = 200
IMPORTANCE_ROWS = 1000
# Cap on rows x features x repeats pushed through the model for importance.
IMPORTANCE_CELLS = 120_000
MAX_ROC_CLASSES = 10


def held_out(model, X, y, task: str, classes) -> tuple[dict, np.ndarray]:
    """Held-out metrics and the raw predictions they came from (probabilities or numbers)."""
    if task == "classification":
        proba = aligned_proba(model, X, classes)
        return classification_metrics(y, proba, classes), proba
    pred = model.predict(X)
    return regression_metrics(y, pred), pred


def _thin(n: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int))


def charts(y, pred: np.ndarray, task: str, classes, seed: int) -> dict:
    """Chart data: confusion matrix + ROC points, or predicted-vs-actual + residual samples."""
    if task == "classification":
        labels = classes[np.argmax(pred, axis=1)]
        out = {"confusion_matrix": {
            "labels": [_plain(c) for c in classes],
            "matrix": confusion_matrix(y, labels, labels=classes).tolist()}}
        curves = []
        targets = classes[1:] if len(classes) == 2 else classes[:MAX_ROC_CLASSES]
        for c in targets:
            positive = np.asarray(y) == c
            if positive.all() or not positive.any():
                continue
            fpr, tpr, _ = roc_curve(positive, pred[:, list(classes).index(c)])
            keep = _thin(len(fpr), ROC_POINTS)
            curves.append({"class": _plain(c), "fpr": fpr[keep].round(4).tolist(),
                           "tpr": tpr[keep].round(4).tolist()})
        out["roc_curve"] = curves
        return out
    y = np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(y), size=min(len(y), CHART_POINTS), replace=False)
    return {
        "predicted_vs_actual": [{"actual": float(y[i]), "predicted": float(pred[i])} for i in idx],
        "residuals": [{"predicted": float(pred[i]), "residual": float(y[i] - pred[i])}
                      for i in idx],
    }


def _importance_sample(n_rows: int, n_columns: int, repeats: int) -> int:
    return int(min(n_rows, IMPORTANCE_ROWS, max(50, IMPORTANCE_CELLS // (n_columns * repeats))))


def permutation_importance(model, X: pd.DataFrame, y, task: str, metric: str, classes,
                           seed: int, deadline: float, repeats: int = 3,
                           seconds_per_row: float = 0.0) -> list[dict]:
    """Drop in the metric when each raw input column is shuffled, on a held-out sample.

    All shuffled copies go through the model in one batch (per-call overhead dominates on
    small samples), which cannot stop half-way: skipped when, at `seconds_per_row` (the
    model's measured prediction cost), it would not end before the deadline.
    """
    n = _importance_sample(len(X), X.shape[1], repeats)
    if time.monotonic() + seconds_per_row * n * (X.shape[1] * repeats + 1) > deadline:
        return []
    rng = np.random.default_rng(seed)
    keep = rng.choice(len(X), n, replace=False)
    X, y = X.iloc[keep].reset_index(drop=True), np.asarray(y)[keep]
    base = score(held_out(model, X, y, task, classes)[0], metric)
    copies = []
    for col in X.columns:
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[col] = X[col].to_numpy()[rng.permutation(n)]
            copies.append(shuffled)
    big = pd.concat(copies, ignore_index=True)
    pred = aligned_proba(model, big, classes) if task == "classification" else model.predict(big)
    out = []
    for i, col in enumerate(X.columns):
        drops = []
        for r in range(repeats):
            block = pred[(i * repeats + r) * n:(i * repeats + r + 1) * n]
            m = (classification_metrics(y, block, classes) if task == "classification"
                 else regression_metrics(y, block))
            drops.append(base - score(m, metric))
        out.append({"feature": col, "importance": float(np.mean(drops))})
    return sorted(out, key=lambda d: -d["importance"])


def _plain(value):
    """numpy scalars to JSON-friendly Python values."""
    return value.item() if isinstance(value, np.generic) else value


def input_schema(X: pd.DataFrame, features: dict[str, str]) -> list[dict]:
    """The inputs a model expects: name, kind, and allowed values or the training range."""
    out = []
    for name, kind in features.items():
        col = X[name].dropna()
        item: dict = {"name": name, "kind": kind}
        if kind in ("integer", "float") and len(col):
            item["min"], item["max"] = _plain(col.min()), _plain(col.max())
            if kind == "integer":
                item["min"], item["max"] = int(item["min"]), int(item["max"])
            else:
                item["min"], item["max"] = float(item["min"]), float(item["max"])
        elif kind == "datetime" and len(col):
            stamps = pd.to_datetime(col, errors="coerce").dropna()
            if len(stamps):
                item["min"], item["max"] = stamps.min().isoformat(), stamps.max().isoformat()
        elif kind in ("categorical", "boolean"):
            values = sorted({str(v) for v in col.unique()})
            if len(values) <= MAX_ALLOWED_VALUES:
                item["allowed_values"] = values
        out.append(item)
    return out
