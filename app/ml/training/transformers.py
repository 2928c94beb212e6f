"""Our own estimators saved inside models: they live here so skops can trust them by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

MISSING_CATEGORY = "(missing)"
DATE_PARTS = ("year", "month", "day", "dayofweek", "hour", "days")
NUMERIC_INPUT_KINDS = ("integer", "float")


def _as_numeric(values: pd.Series) -> np.ndarray:
    out = pd.to_numeric(values.astype(object), errors="coerce").astype("float64").to_numpy(copy=True)
    out[~np.isfinite(out)] = np.nan
    return out


def _as_category(values: pd.Series) -> np.ndarray:
    obj = values.astype(object)
    missing = obj.isna().to_numpy()
    out = np.array([str(v) for v in obj], dtype=object)
    out[missing] = MISSING_CATEGORY
    return out


def _date_parts(values: pd.Series) -> dict[str, np.ndarray]:
    stamps = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    days = (stamps - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(days=1)
    parts = {
        "year": stamps.dt.year, "month": stamps.dt.month, "day": stamps.dt.day,
        "dayofweek": stamps.dt.dayofweek, "hour": stamps.dt.hour, "days": days,
    }
    return {name: _as_numeric(part) for name, part in parts.items()}


class InputCaster(TransformerMixin, BaseEstimator):
    """Turns raw rows (strings, None, numbers) into clean typed columns by their dataset kind.

    Numbers become float64 with NaN for anything missing or unparsable, labels become
    strings with an explicit "(missing)" category, and dates become numeric parts, so
    the model accepts the same raw values at prediction time as the file gave.
    """

    def __init__(self, kinds: dict | None = None):
        self.kinds = kinds

    def fit(self, X, y=None):
        self.feature_names_in_ = np.asarray(list(self.kinds), dtype=object)
        self.n_features_in_ = len(self.kinds)
        return self

    def transform(self, X):
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=list(self.kinds))
        columns: dict[str, np.ndarray] = {}
        for name, kind in self.kinds.items():
            values = frame[name] if name in frame else pd.Series([None] * len(frame))
            values = values.reset_index(drop=True)
            if kind in NUMERIC_INPUT_KINDS:
                columns[name] = _as_numeric(values)
            elif kind == "datetime":
                for part, arr in _date_parts(values).items():
                    columns[f"{name}__{part}"] = arr
            else:
                columns[name] = _as_category(values)
        return pd.DataFrame(columns)

    def get_feature_names_out(self, input_features=None):
        names = []
        for name, kind in self.kinds.items():
            if kind == "datetime":
                names.extend(f"{name}__{part}" for part in DATE_PARTS)
            else:
                names.append(name)
        return np.asarray(names, dtype=object)


class WeightedEnsemble(BaseEstimator):
    """A weighted average of already fitted pipelines (chosen by greedy ensemble selection).

    Kept instead of VotingClassifier because Voting* refits every member, which the
    time budget cannot afford; the members here were fitted once on the same rows.
    """

    def __init__(self, members: list | None = None, weights: list | None = None,
                 task: str = "classification"):
        self.members = members
        self.weights = weights
        self.task = task

    def fit(self, X, y=None):
        if self.task == "classification":
            self.classes_ = self.members[0].classes_
        return self

    def _weights(self) -> np.ndarray:
        w = np.asarray(self.weights, dtype=float)
        return w / w.sum()

    def predict_proba(self, X):
        w = self._weights()
        return sum(wi * m.predict_proba(X) for wi, m in zip(w, self.members, strict=True))

    def predict(self, X):
        if self.task == "classification":
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        w = self._weights()
        return sum(wi * m.predict(X) for wi, m in zip(w, self.members, strict=True))
