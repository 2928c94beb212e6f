"""Rough costs the time budget plans with."""

from __future__ import annotations


def save_seconds(model) -> float:
    """Rough seconds to save `model` with skops through MLflow (dump, verify-load, example).

    Measured on the 2-core machine: ~0.8 s fixed, ~0.011 s per forest tree, ~0.05 s per
    gradient-boosting tree (each is a separate object with several arrays).
    """
    members = getattr(model, "members", None)
    if members is not None:
        return sum(save_seconds(m) for m in members)
    est = model.steps[-1][1] if hasattr(model, "steps") else model
    cost = 0.8 + 0.011 * len(getattr(est, "estimators_", []))
    if hasattr(est, "_predictors"):
        cost += 0.05 * sum(len(p) for p in est._predictors)
    return cost
