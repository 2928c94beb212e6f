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


class Unsupported(Exception):
    """A step this module does not compile: the pipeline predicts by itself."""


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

def _hgb_recoder(est) -> Callable[[np.ndarray], np.ndarray]:
    """HGB's own preprocessing at predict time: its categorical columns re-encoded, put first."""
    pre = getattr(est, "_preprocessor", None)
    if pre is None:
        return lambda X: X
    named = {name: (step, cols) for name, step, cols in pre.transformers_}
    if set(named) - {"encoder", "numerical", "remainder"} or "encoder" not in named:
        raise Unsupported("HGB preprocessor shape")
    encoder, mask = named["encoder"]
    mask = np.asarray(mask, dtype=bool)
    if getattr(encoder, "_infrequent_enabled", False):
        raise Unsupported("HGB encoder settings")
    cat_idx, num_idx = np.flatnonzero(mask), np.flatnonzero(~mask)
    tables = []
    for cats in encoder.categories_:
        cats = np.asarray(cats, dtype=float)
        known = ~np.isnan(cats)
        if not known.all() and not np.isnan(cats[-1]):
            raise Unsupported("HGB categories")
        tables.append(cats[known])

    def recode(X: np.ndarray) -> np.ndarray:
        out = np.empty(X.shape)
        for j, (col, cats) in enumerate(zip(cat_idx, tables, strict=True)):
            values = X[:, col]
            pos = np.clip(np.searchsorted(cats, values), 0, max(len(cats) - 1, 0))
            hit = (len(cats) > 0) & (cats[pos] == values) if len(cats) else np.zeros(len(values), bool)
            out[:, j] = np.where(hit, pos, np.nan)
        out[:, len(cat_idx):] = X[:, num_idx]
        return out
    return recode


class _Forest:
    """Every tree of a fitted HistGradientBoosting* model as flat arrays, walked together."""

    def __init__(self, est):
        self.recode = _hgb_recoder(est)
        predictors = est._predictors
        self.n_iter = len(predictors)
        self.k = est.n_trees_per_iteration_
        nodes, left_bitsets, roots, offset, bit_offset = [], [], [], 0, 0
        for iteration in predictors:
            for predictor in iteration:
                tree = predictor.nodes
                roots.append(offset)
                nodes.append((tree, offset, bit_offset))
                bits = predictor.raw_left_cat_bitsets
                left_bitsets.append(bits)
                offset += len(tree)
                bit_offset += len(bits)
        merged = np.concatenate([t for t, _, _ in nodes])
        self.feature = merged["feature_idx"].astype(np.intp)
        self.threshold = merged["num_threshold"].astype(float)
        self.go_left_missing = merged["missing_go_to_left"].astype(bool)
        self.is_leaf = merged["is_leaf"].astype(bool)
        self.is_cat = merged["is_categorical"].astype(bool)
        self.value = merged["value"].astype(float)
        shift = np.concatenate([np.full(len(t), off, dtype=np.intp) for t, off, _ in nodes])
        bshift = np.concatenate([np.full(len(t), boff, dtype=np.intp) for t, _, boff in nodes])
        self.left = merged["left"].astype(np.intp) + shift
        self.right = merged["right"].astype(np.intp) + shift
        self.bitset = merged["bitset_idx"].astype(np.intp) + bshift
        pad = np.zeros((1, 8), dtype=np.uint32)
        self.left_bits = np.vstack([*(b.reshape(-1, 8) for b in left_bitsets if len(b)), pad]).astype(np.int64)
        self.bitset = np.where(self.is_cat, self.bitset, len(self.left_bits) - 1)
        known, f_idx_map = est._bin_mapper.make_known_categories_bitsets()
        self.known_bits = np.vstack([known.reshape(-1, 8), pad]).astype(np.int64)
        fmap = np.asarray(f_idx_map, dtype=np.intp)
        cat_features = np.zeros(len(fmap), dtype=bool)
        cat_features[self.feature[self.is_cat]] = True
        self.fmap = np.where(cat_features, fmap, len(self.known_bits) - 1)
        self.roots = np.asarray(roots, dtype=np.intp)
        self.depth = int(merged["depth"].max()) + 1 if len(merged) else 1
        self.baseline = np.asarray(est._baseline_prediction, dtype=float).reshape(-1)

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Sum of leaves over all trees, shape (n_rows, k), added in sklearn's order."""
        return self.sums(_walk(self, self.recode(X)))

    def sums(self, leaves: np.ndarray) -> np.ndarray:
        """Per-row sums of this model's leaves (n_rows, n_trees), tree after tree."""
        n = leaves.shape[0]
        leaves = leaves.reshape(n, self.n_iter, self.k)
        out = np.empty((n, self.k))
        for r in range(n):  # sequential sums, as sklearn adds tree after tree
            stacked = np.vstack([self.baseline[None, :], leaves[r]])
            out[r] = np.add.accumulate(stacked, axis=0)[-1]
        return out


class _Merged:
    """The trees of several _Forests as one set of arrays, walked in one pass (a bag of
    boosting models costs one walk's numpy overhead, not one per member). Feature, node,
    bitset and known-category indexes are shifted per member; X is the members' recoded
    matrices side by side."""

    def __init__(self, forests: list[_Forest], widths: list[int]):
        node_off = np.cumsum([0] + [len(f.feature) for f in forests])[:-1]
        feat_off = np.cumsum([0, *widths])[:-1]
        bits_off = np.cumsum([0] + [len(f.left_bits) for f in forests])[:-1]
        known_off = np.cumsum([0] + [len(f.known_bits) for f in forests])[:-1]
        cat = np.concatenate
        self.feature = cat([f.feature + o for f, o in zip(forests, feat_off, strict=True)])
        self.threshold = cat([f.threshold for f in forests])
        self.go_left_missing = cat([f.go_left_missing for f in forests])
        self.is_leaf = cat([f.is_leaf for f in forests])
        self.is_cat = cat([f.is_cat for f in forests])
        self.value = cat([f.value for f in forests])
        self.left = cat([f.left + o for f, o in zip(forests, node_off, strict=True)])
        self.right = cat([f.right + o for f, o in zip(forests, node_off, strict=True)])
        self.bitset = cat([f.bitset + o for f, o in zip(forests, bits_off, strict=True)])
        self.left_bits = np.vstack([f.left_bits for f in forests])
        self.known_bits = np.vstack([f.known_bits for f in forests])
        self.fmap = cat([f.fmap[:w] + o for f, w, o in
                         zip(forests, widths, known_off, strict=True)])
        self.roots = cat([f.roots + o for f, o in zip(forests, node_off, strict=True)])
        self.depth = max(f.depth for f in forests)
        ends = np.cumsum([len(f.roots) for f in forests])
        self.trees = list(zip([0, *ends[:-1]], ends, strict=True))


def _walk(forest, X: np.ndarray) -> np.ndarray:
    """The leaf value each row reaches in each tree, shape (n_rows, n_trees).

    (row, tree) pairs that reached a leaf drop out of the next level's arrays, so deep
    levels cost only the few trees still descending."""
    f = forest
    n, t = X.shape[0], len(f.roots)
    node = np.tile(f.roots, n)  # flat (row, tree) pairs, row-major
    row = np.repeat(np.arange(n), t)
    active = np.arange(n * t)
    for _ in range(f.depth):
        idx = node[active]
        going = ~f.is_leaf[idx]
        if not going.any():
            break
        active, idx = active[going], idx[going]
        feat = f.feature[idx]
        val = X[row[active], feat]
        nan = np.isnan(val)
        cat = f.is_cat[idx]
        code = np.where(nan | (val < 0), 0, val)
        code = np.minimum(code, 255).astype(np.int64)  # sklearn casts to uint8
        word, bit = code // 32, code % 32
        in_left = ((f.left_bits[f.bitset[idx], word] >> bit) & 1).astype(bool)
        in_known = ((f.known_bits[f.fmap[feat], word] >> bit) & 1).astype(bool)
        as_missing = nan | (cat & ((val < 0) | (~in_left & ~in_known)))
        go_left = np.where(as_missing, f.go_left_missing[idx],
                           np.where(cat, in_left, val <= f.threshold[idx]))
        node[active] = np.where(go_left, f.left[idx], f.right[idx])
    return f.value[node].reshape(n, t)


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
