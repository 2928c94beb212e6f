"""Rough costs the time budget plans with."""

from __future__ import annotations

# Seconds to save a model with skops through MLflow (dump, verify-load, signature, example),
# measured on the 2-core machine over forests, extra trees and gradient boosting of 100 to
# 3,000 trees and 6,000 to 4 million nodes (27 Nov 2026; see bench/automl/README.md):
# ~0.3 s fixed, ~1.8 ms per tree, ~1.5-2 us per node. Rounded up for planning.
SAVE_FIXED_S, SAVE_PER_TREE_S, SAVE_PER_NODE_S = 0.8, 0.002, 2e-6


def save_seconds(model, rows_scale: float = 1.0) -> float:
    """Rough seconds to save `model`; `rows_scale` scales the node count of fully grown trees
    to a model fitted on that many times the rows (about one leaf per few rows). Boosting's
    trees are capped by their leaf count, so theirs stays."""
    members = getattr(model, "members", None)
    if members is not None:
        return sum(save_seconds(m, rows_scale) for m in members)
    est = model.steps[-1][1] if hasattr(model, "steps") else model
    trees, nodes = tree_size(est)
    scale = 1.0 if hasattr(est, "_predictors") else rows_scale
    return SAVE_FIXED_S + SAVE_PER_TREE_S * trees + SAVE_PER_NODE_S * nodes * scale


def tree_size(est) -> tuple[int, int]:
    """(trees, nodes) of a tree model: a forest, gradient boosting or one tree; (0, 0) else."""
    if hasattr(est, "_predictors"):  # histogram gradient boosting: one predictor per class
        predictors = [p for per_iteration in est._predictors for p in per_iteration]
        return len(predictors), sum(len(p.nodes) for p in predictors)
    forest = getattr(est, "estimators_", None)
    if forest and hasattr(forest[0], "tree_"):
        return len(forest), sum(t.tree_.node_count for t in forest)
    if hasattr(est, "tree_"):
        return 1, est.tree_.node_count
    return 0, 0
