"""Task detection: the one rule deciding classification or regression, with a plain reason."""

from __future__ import annotations

import pandas as pd

from app.ml.training.errors import TrainingRejected

# An integer target with at most this many distinct values is treated as classes.
MAX_INTEGER_CLASSES = 20
# A classification target may have at most this many classes.
MAX_CLASSES = 100

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
LABEL_KINDS = {"categorical", "boolean", "text", "id"}
NUMERIC_KINDS = {"integer", "float"}


def detect_task(y: pd.Series, kind: str) -> tuple[str, str]:
    """Classification or regression for target `y` of column kind `kind`, and why.

    Rule: labels (text, categorical, yes/no) are classes; integers with at most
    20 distinct values are classes; decimals with at most 2 distinct values are
    classes; any other number is a quantity to regress. Dates cannot be targets.
    """
    values = y.dropna()
    n_distinct = int(values.nunique())
    if kind == "boolean":
        return CLASSIFICATION, f"yes/no values ({n_distinct} distinct) → classification"
    if kind in LABEL_KINDS:
        return CLASSIFICATION, f"text labels with {n_distinct} distinct values → classification"
    if kind == "integer":
        if n_distinct <= MAX_INTEGER_CLASSES:
            return CLASSIFICATION, f"integer with {n_distinct} distinct values → classification"
        return REGRESSION, f"integer with {n_distinct} distinct values → regression"
    if kind == "float":
        if n_distinct <= 2:
            return CLASSIFICATION, f"decimal numbers with {n_distinct} distinct values → classification"
        return REGRESSION, f"decimal numbers with {n_distinct} distinct values → regression"
    raise TrainingRejected(
        f"A {kind} column cannot be a target: pick a column of labels or numbers.",
        {"target": [f"unsupported kind {kind!r}"]},
    )


def resolve_task(y: pd.Series, kind: str, task: str | None) -> tuple[str, str]:
    """The detected task, or the user's override when it is possible for this column."""
    detected, reason = detect_task(y, kind)
    if task is None or task == detected:
        return detected, reason
    if task not in TASKS:
        raise TrainingRejected(f"Unknown task {task!r}.", {"task": [f"must be one of {TASKS}"]})
    if task == REGRESSION and kind not in NUMERIC_KINDS:
        raise TrainingRejected(
            "Regression needs a numeric target.", {"task": [f"target kind is {kind}"]}
        )
    return task, f"{reason.rsplit(' → ', 1)[0]} → {task} (chosen by you)"
