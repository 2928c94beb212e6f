"""A few-row prediction path for our saved pipelines, without pandas and sklearn's per-call costs.

For one row, `Pipeline.predict_proba` spends almost all its time in overheads: pandas
frames through InputCaster and the ColumnTransformer, input validation, and one Python
call per boosting tree (hundreds). `compile_pipeline` turns a fitted pipeline whose
steps it knows (InputCaster, a ColumnTransformer of OrdinalEncoder / SimpleImputer
parts, histogram gradient boosting; or a weighted ensemble of such pipelines) into plain
arrays once, and predicts a few rows by walking every tree at once with numpy. It returns
None for anything else, and callers then use the pipeline itself: the result is the same
either way (the unit tests compare them on random rows with missing and unseen values).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable

import numpy as np
import pandas as pd

from app.ml.fast_trees import Unsupported, _Forest, _Merged, _walk
from app.ml.training.transformers import (
    MISSING_CATEGORY,
    NUMERIC_INPUT_KINDS,
    InputCaster,
    WeightedEnsemble,
    _date_parts,
)

MAX_FAST_ROWS = 32  # above this, sklearn's own vectorised path is as fast
_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_UNSUPPORTED = object()


def fast_model(model):
    """The compiled form of `model` (cached per model object), or None if it cannot be compiled."""
    try:
        found = _compiled.get(model)
    except TypeError:
        return None
    if found is None:
        try:
            found = compile_pipeline(model)
        except Exception:  # Unsupported, or anything odd: the pipeline predicts by itself
            found = _UNSUPPORTED
        _compiled[model] = found
    return None if found is _UNSUPPORTED else found


# --- preprocessing ----------------------------------------------------------------------

def _cast_plan(caster: InputCaster) -> list[tuple[str, str]]:
    return list((caster.kinds or {}).items())


def _cast_rows(plan: list[tuple[str, str]], frame) -> dict[str, list]:
    """InputCaster.transform as lists: floats (NaN for missing), labels, or date parts.

    `frame` is a DataFrame or the columns of checked rows (name: list of plain values).
    """
    out: dict[str, list] = {}
    plain = isinstance(frame, dict)
    n = len(next(iter(frame.values()))) if plain and frame else len(frame)
    for name, kind in plan:
        present = name in frame
        values = (list(frame[name]) if plain else frame[name].tolist()) if present else [None] * n
        if kind in NUMERIC_INPUT_KINDS:
            out[name] = [_as_float(v) for v in values]
        elif kind == "datetime":
            if not present:
                series = pd.Series([None] * n)
            elif plain:  # as serving._frame builds it
                series = pd.to_datetime(pd.Series(values, dtype="object"))
            else:
                series = frame[name].reset_index(drop=True)
            for part, arr in _date_parts(series).items():
                out[f"{name}__{part}"] = arr.tolist()
        else:
            out[name] = [MISSING_CATEGORY if _is_na(v) else str(v) for v in values]
    return out


def _is_na(value) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _as_float(value) -> float:
    if _is_na(value) or isinstance(value, str | bytes):
        if isinstance(value, str | bytes):
            number = pd.to_numeric(pd.Series([value], dtype=object), errors="coerce").iloc[0]
            return float(number) if math.isfinite(number) else math.nan
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _ordinal(encoder, columns: list[str]) -> Callable[[dict, int], np.ndarray]:
    from sklearn.preprocessing import OrdinalEncoder

    if type(encoder) is not OrdinalEncoder or getattr(encoder, "_infrequent_enabled", False) \
            or encoder.handle_unknown != "use_encoded_value" or not _isnan(encoder.unknown_value) \
            or not _isnan(encoder.encoded_missing_value):
        raise Unsupported("ordinal encoder settings")
    maps = []
    for cats in encoder.categories_:
        if any(not isinstance(c, str) for c in cats):
            raise Unsupported("non-text categories")
        maps.append({c: float(i) for i, c in enumerate(cats)})

    def transform(cast: dict, n: int) -> np.ndarray:
        out = np.empty((n, len(columns)))
        for j, (name, mapping) in enumerate(zip(columns, maps, strict=True)):
            out[:, j] = [mapping.get(v, math.nan) for v in cast[name]]
        return out
    return transform


def _isnan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _imputer(step, columns: list[str]) -> Callable[[dict, int], np.ndarray]:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    imputer = step.steps[0][1] if type(step) is Pipeline and len(step.steps) == 1 else step
    if type(imputer) is not SimpleImputer or not _isnan(imputer.missing_values) \
            or not getattr(imputer, "keep_empty_features", False):
        raise Unsupported("imputer settings")
    fill = np.asarray(imputer.statistics_, dtype=float)
    indicator = getattr(imputer, "indicator_", None)
    flagged = np.asarray(indicator.features_, dtype=int) if indicator is not None else None
    if indicator is not None and indicator.features != "missing-only":
        raise Unsupported("indicator settings")

    def transform(cast: dict, n: int) -> np.ndarray:
        raw = np.array([cast[name] for name in columns], dtype=float).T.reshape(n, len(columns))
        missing = np.isnan(raw)
        filled = np.where(missing, fill, raw)
        if flagged is None:
            return filled
        return np.hstack([filled, missing[:, flagged].astype(float)])
    return transform


def _column_parts(columns) -> list[Callable[[dict, int], np.ndarray]]:
    from sklearn.compose import ColumnTransformer

    if type(columns) is not ColumnTransformer or columns.remainder != "drop":
        raise Unsupported("column transformer")
    parts = []
    for name, transformer, cols in columns.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
            raise Unsupported("column selection")
        if name == "native":
            parts.append(_ordinal(transformer, cols))
        elif name == "numeric":
            parts.append(_imputer(transformer, cols))
        else:
            raise Unsupported(f"part {name}")
    return parts


# --- histogram gradient boosting ----------------------------------------------------------


class CompiledPipeline:
    """InputCaster -> ColumnTransformer -> HistGradientBoosting*, as arrays."""

    def __init__(self, pipeline):
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from sklearn.pipeline import Pipeline

        if type(pipeline) is not Pipeline or len(pipeline.steps) != 3:
            raise Unsupported("pipeline shape")
        caster, columns, est = (s for _, s in pipeline.steps)
        if type(caster) is not InputCaster:
            raise Unsupported("first step")
        if type(est) not in (HistGradientBoostingClassifier, HistGradientBoostingRegressor):
            raise Unsupported("estimator")
        self.plan = _cast_plan(caster)
        self.parts = _column_parts(columns)
        self.forest = _Forest(est)
        self.est = est
        self.classes_ = getattr(est, "classes_", None)
        self.n_features = est.n_features_in_

    def _matrix(self, frame, cast: dict | None = None) -> np.ndarray:
        """The estimator's input; `cast`: the rows already cast with this plan."""
        n = len(next(iter(frame.values()))) if isinstance(frame, dict) and frame else len(frame)
        cast = _cast_rows(self.plan, frame) if cast is None else cast
        X = np.hstack([part(cast, n) for part in self.parts]) if self.parts else np.empty((n, 0))
        if X.shape[1] != self.n_features:
            raise Unsupported("width")
        return X

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        raw = self.forest.raw(self._matrix(frame))
        return self.est._loss.predict_proba(raw)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        raw = self.forest.raw(self._matrix(frame))
        if self.classes_ is not None:
            proba = self.est._loss.predict_proba(raw)
            return self.classes_[np.argmax(proba, axis=1)]
        return self.est._loss.link.inverse(raw.ravel())


class CompiledEnsemble:
    """A WeightedEnsemble whose members all compile, blended in the ensemble's own order.

    The rows are cast once when the members share a cast plan (a bag's members do), and all
    members' trees are walked in one pass (_Merged); each member's sums and link are its own.
    """

    def __init__(self, ensemble: WeightedEnsemble):
        self.members = [CompiledPipeline(m) for m in ensemble.members]
        self.weights = ensemble._weights()
        self.classes_ = getattr(ensemble, "classes_", None)
        plans = [m.plan for m in self.members]
        self.shared_plan = plans[0] if all(p == plans[0] for p in plans) else None
        self.merged = _Merged([m.forest for m in self.members],
                              [m.n_features for m in self.members])

    def _raws(self, frame) -> list[np.ndarray]:
        cast = _cast_rows(self.shared_plan, frame) if self.shared_plan is not None else None
        X = np.hstack([m.forest.recode(m._matrix(frame, cast)) for m in self.members])
        leaves = _walk(self.merged, X)
        return [m.forest.sums(leaves[:, a:b])
                for m, (a, b) in zip(self.members, self.merged.trees, strict=True)]

    def predict_proba(self, frame) -> np.ndarray:
        raws = self._raws(frame)
        return sum(w * m.est._loss.predict_proba(raw)
                   for w, m, raw in zip(self.weights, self.members, raws, strict=True))

    def predict(self, frame) -> np.ndarray:
        if self.classes_ is not None:
            return self.classes_[np.argmax(self.predict_proba(frame), axis=1)]
        raws = self._raws(frame)
        return sum(w * m.est._loss.link.inverse(raw.ravel())
                   for w, m, raw in zip(self.weights, self.members, raws, strict=True))


def compile_pipeline(model) -> CompiledPipeline | CompiledEnsemble:
    if type(model) is WeightedEnsemble:
        return CompiledEnsemble(model)
    return CompiledPipeline(model)
