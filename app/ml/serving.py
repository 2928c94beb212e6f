"""Prediction inputs checked against a model's input schema, and predictions in the file's labels.

The rules of API.md: an absent feature is an error naming it; None and the missing markers of
the upload (and inf) are missing values, imputed by the model; a numeric feature takes a
number or a numeric string; a categorical or boolean feature takes any string, number or
boolean (an unseen value predicts, with a warning); a datetime takes an ISO 8601 string.
Anything else is an error naming the row and the feature. Extra keys are listed in warnings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from app.ml.errors import ServiceError
from app.ml.fast_predict import MAX_FAST_ROWS, fast_model
from app.ml.kinds import MISSING_MARKERS

MISSING = {m.lower() for m in MISSING_MARKERS} | {"inf", "+inf", "-inf", "infinity", "-infinity"}
NUMERIC = ("integer", "float")
TEXTUAL = ("categorical", "boolean", "text", "id")
TRUE_WORDS = {"true", "yes", "y", "t", "1", "on"}
FALSE_WORDS = {"false", "no", "n", "f", "0", "off"}
MAX_WARNINGS = 50


class InvalidInput(ServiceError):
    """Rows that do not fit the schema; `errors` nests like marshmallow's ({"rows": {"0": {...}}})."""


@dataclass
class CheckedRows:
    """Checked rows as columns of plain values (None for missing); `frame` is built when asked."""

    columns: dict[str, list]
    features: list[dict]
    warnings: list[str] = field(default_factory=list)

    @cached_property
    def frame(self) -> pd.DataFrame:
        return _frame(self.columns, self.features)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING


def _number(value) -> float:
    if isinstance(value, bool):
        raise ValueError("Not a valid number.")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        number = float(value.strip().replace("_", "x"))  # float() accepts '1_0'; we do not
        if math.isinf(number):
            return math.nan
        return number
    raise ValueError("Not a valid number.")


def _boolean_spelling(value: bool, allowed: list[str] | None) -> str:
    words = TRUE_WORDS if value else FALSE_WORDS
    for spelling in allowed or []:
        if spelling.strip().lower() in words:
            return spelling
    return "true" if value else "false"


def _text(value, feature: dict) -> str:
    if isinstance(value, dict | list):
        raise ValueError("Not a valid value: expected a string, number or boolean.")
    if isinstance(value, bool):
        return _boolean_spelling(value, feature.get("allowed_values"))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _datetime(value) -> pd.Timestamp:
    if not isinstance(value, str):
        raise ValueError("Not a valid datetime: expected an ISO 8601 string.")
    stamp = pd.Timestamp(value.strip())
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def check_rows(rows: list, features: list[dict], *, max_rows: int) -> CheckedRows:
    """A frame with the model's columns in order, or InvalidInput naming each bad row and feature."""
    if not isinstance(rows, list) or not rows:
        raise InvalidInput("Send at least one row.", {"rows": ["Send at least one row."]})
    if len(rows) > max_rows:
        raise InvalidInput(f"At most {max_rows} rows per call; send a batch file for more.",
                           {"rows": [f"Longer than {max_rows}."]}, status=413)
    names = [f["name"] for f in features]
    known = set(names)
    columns: dict[str, list] = {name: [] for name in names}
    errors: dict[str, dict] = {}
    warnings: list[str] = []
    extra: set[str] = set()
    unseen: dict[str, set] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            errors[str(i)] = {"_schema": ["Each row must be an object of feature: value."]}
            continue
        extra.update(k for k in row if k not in known)
        row_errors = {}
        for feature in features:
            name, kind = feature["name"], feature["kind"]
            if name not in row:
                row_errors[name] = ["Missing data for required field."]
                continue
            value = row[name]
            try:
                if _is_missing(value) and not isinstance(value, dict | list):
                    cell = None
                elif kind in NUMERIC:
                    cell = _number(value)
                elif kind == "datetime":
                    cell = _datetime(value)
                else:
                    cell = _text(value, feature)
                    allowed = feature.get("allowed_values")
                    if allowed is not None and cell not in allowed:
                        unseen.setdefault(name, set()).add(cell)
            except (ValueError, TypeError, OverflowError):
                row_errors[name] = [_message(kind)]
                continue
            columns[name].append(cell)
        if row_errors:
            errors[str(i)] = row_errors
    if errors:
        raise InvalidInput("Some rows do not fit the model's inputs.", {"rows": errors})
    if extra:
        warnings.append(f"Ignored keys that are not inputs of this model: {', '.join(sorted(extra)[:20])}.")
    for name, values in unseen.items():
        shown = ", ".join(sorted(values)[:5])
        warnings.append(f"{name}: {shown} not seen in training; predicted as an unknown value.")
    return CheckedRows(columns, features, warnings[:MAX_WARNINGS])


def _message(kind: str) -> str:
    if kind in NUMERIC:
        return "Not a valid number."
    if kind == "datetime":
        return "Not a valid datetime: expected an ISO 8601 string."
    return "Not a valid value: expected a string, number or boolean."


def _frame(columns: dict[str, list], features: list[dict]) -> pd.DataFrame:
    data = {}
    for feature in features:
        values = columns[feature["name"]]
        if feature["kind"] in NUMERIC:
            data[feature["name"]] = pd.Series(values, dtype="float64")
        elif feature["kind"] == "datetime":
            data[feature["name"]] = pd.to_datetime(pd.Series(values, dtype="object"))
        else:
            data[feature["name"]] = pd.Series([np.nan if v is None else v for v in values], dtype="object")
    return pd.DataFrame(data)


def predict(model, frame: pd.DataFrame | CheckedRows, task: str, classes: list | None) -> tuple[list, list | None]:
    """Predictions (labels as written in the file, or numbers) and per-class probabilities.

    A few rows go through the compiled form of the model when it has one (the same
    numbers, without pandas and per-tree call costs; see app.ml.fast_predict); it takes
    checked rows as they are, the pipeline takes their frame.
    """
    fast = fast_model(model) if len(frame) <= MAX_FAST_ROWS else None
    if fast is not None:
        scorer, data = fast, frame.columns if isinstance(frame, CheckedRows) else frame
    else:
        scorer, data = model, frame.frame if isinstance(frame, CheckedRows) else frame
    if task == "classification":
        proba = scorer.predict_proba(data)
        order = [_plain(c) for c in model.classes_]
        labels = [order[i] for i in np.argmax(proba, axis=1)]
        wanted = classes or order
        index = {c: i for i, c in enumerate(order)}
        probabilities = [{str(c): float(row[index[c]]) if c in index else 0.0 for c in wanted} for row in proba]
        return labels, probabilities
    return [float(v) for v in scorer.predict(data)], None


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
