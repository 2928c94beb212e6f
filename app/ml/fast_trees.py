"""Boosting trees as flat arrays, walked for many trees at once (used by fast_predict).

Split from fast_predict.py: the compiled pipeline (casting, encoding) lives there, the
tree arithmetic here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class Unsupported(Exception):
    """A step this module does not compile: the pipeline predicts by itself."""


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
