"""Our own estimators saved inside models: they live here so skops can trust them by name."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

MISSING_CATEGORY = "(missing)"
DATE_PARTS = ("year", "month", "day", "dayofweek", "hour", "days")
NUMERIC_INPUT_KINDS = ("integer", "float")


def _as_numeric(values: pd.Series) -> np.ndarray:
    """float64 with NaN for anything missing, unparsable or infinite (a new array)."""
    if _is_number_dtype(values.dtype):  # already numbers: one cast, no Python objects
        out = values.to_numpy(dtype="float64", na_value=np.nan, copy=True)
    else:
        out = pd.to_numeric(values.astype(object), errors="coerce").astype("float64").to_numpy(copy=True)
    out[~np.isfinite(out)] = np.nan
    return out


def _is_number_dtype(dtype) -> bool:
    """Integer or float dtypes (NumPy or nullable), not booleans: their float64 cast is exact."""
    return (pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype)) \
        and not pd.api.types.is_bool_dtype(dtype)


# Values whose str() is the same for every value equal to them (so str can run once per
# distinct value): not floats, where 0.0 == -0.0 but their strings differ.
_STR_PER_UNIQUE = frozenset({"string", "integer", "boolean", "empty"})


def _as_category(values: pd.Series) -> np.ndarray:
    """Labels as str(value) in an object array, "(missing)" for missing cells.

    str() runs once per distinct value (pandas' hash factorisation, then a take) for strings,
    integers and booleans; other values (floats, mixed objects) are converted cell by cell.
    """
    missing = values.isna().to_numpy()
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) or (dtype.kind in "iub" and not missing.any()) \
            or (pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(values, skipna=True) in _STR_PER_UNIQUE):
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        labels = np.empty(len(uniques) + 1, dtype=object)
        labels[:-1] = [str(v) for v in uniques.tolist()] if dtype.kind in "iub" \
            else [str(v) for v in np.asarray(uniques, dtype=object)]
        labels[-1] = MISSING_CATEGORY  # code -1 (missing) takes the last label
        out = labels[codes]
    else:
        out = np.array([str(v) for v in values.astype(object)], dtype=object)
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
        n = len(frame)
        columns: dict[str, np.ndarray | pd.Series] = {}
        for name, kind in self.kinds.items():
            if name in frame:
                values = frame[name]
            else:
                values = pd.Series(np.full(n, None, dtype=object), dtype=object)
            if kind in NUMERIC_INPUT_KINDS:
                columns[name] = _as_numeric(values)
            elif kind == "datetime":
                for part, arr in _date_parts(values.reset_index(drop=True)).items():
                    columns[f"{name}__{part}"] = arr
            else:
                # Kept as object: a str column would be built here (pandas 3) only for the
                # encoders to turn it back into an object array.
                columns[name] = pd.Series(_as_category(values), dtype=object, copy=False)
        return pd.DataFrame(columns, copy=False)

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


# Folds of the out-of-fold decisions that Platt scaling is fitted on (fewer when a class has
# fewer rows). Three, not five: 4 SVM fits instead of 6, and on the benchmark's digits the
# same 4 wrong test rows of 450 either way.
PLATT_FOLDS = 3


class SupportVectorClassifier(ClassifierMixin, BaseEstimator):
    """An RBF-kernel SVM with probabilities, whose predictions are their most probable class.

    Kept instead of SVC(probability=True), whose predict can disagree with its probabilities
    (2 of digits' 450 test rows): one SVM fitted on all rows, its decision values turned into
    probabilities by a sigmoid per class fitted on out-of-fold decisions (sklearn's
    CalibratedClassifierCV, ensemble=False). A class with a single row has no out-of-fold
    decision; then the sigmoids are fitted on the SVM's own training rows (overconfident, but
    such a class is a guess anyway). The fit is deterministic: it takes no seed.
    """

    def __init__(self, C: float = 1.0, gamma_factor: float = 1.0, class_weight=None):
        self.C = C
        self.gamma_factor = gamma_factor
        self.class_weight = class_weight

    def fit(self, X, y):
        smallest = int(np.unique(y, return_counts=True)[1].min())
        # The kernel's width as a multiple of sklearn's "scale" (1 / (columns x variance)), so
        # one search range suits any number of columns and either scaling of them.
        X = np.asarray(X, dtype=float)
        spread = X.shape[1] * float(X.var())
        gamma = self.gamma_factor / (spread if spread > 0 else 1.0)
        svm = SVC(C=self.C, gamma=gamma, class_weight=self.class_weight)
        if smallest >= 2:
            folds = StratifiedKFold(min(PLATT_FOLDS, smallest))
            self.model_ = CalibratedClassifierCV(svm, cv=folds, ensemble=False).fit(X, y)
        else:  # (its folds only split the frozen SVM's decisions; the warning is moot)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "The least populated class", UserWarning)
                self.model_ = CalibratedClassifierCV(FrozenEstimator(svm.fit(X, y))).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class LogTarget(TransformerMixin, BaseEstimator):
    """log(1 + y) for a never-negative regression target (a linear model's target option).

    The inverse is clipped to the log range seen in training widened by `margin` (e times
    the largest value by default): a straight line extrapolating far in log space would
    otherwise return inf for an odd input row.
    """

    def __init__(self, margin: float = 1.0):
        self.margin = margin

    def fit(self, X, y=None):  # X: the target, as TransformedTargetRegressor passes it
        logs = self.transform(X)
        self.low_, self.high_ = float(np.min(logs)), float(np.max(logs))
        return self

    def transform(self, X):
        return np.log1p(np.clip(np.asarray(X, dtype=float), 0.0, None))

    def inverse_transform(self, z):
        bounded = np.clip(np.asarray(z, dtype=float), self.low_ - self.margin,
                          self.high_ + self.margin)
        return np.expm1(np.maximum(bounded, 0.0))
