"""Model families: one registry entry per algorithm with its defaults and search space.

Only parameters named in a family's space (or its fixed settings) ever reach an estimator:
the request chooses families, never raw options.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from app.ml.training.preprocessing import POWER, RANGE, STANDARD
from app.ml.training.transformers import LogTarget, SupportVectorClassifier

# Forest fits use both cores; everything else is single-threaded or OpenMP (HGB).
FOREST_JOBS = 2


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _choice(rng: np.random.Generator, options: list):
    return options[int(rng.integers(len(options)))]


@dataclass(frozen=True)
class Family:
    """How to build, default and sample one algorithm for one task."""

    name: str
    label: str
    task: str
    style: str  # preprocessing style, see preprocessing.STYLES
    make: Callable[..., object]
    defaults: dict
    sample: Callable[[np.random.Generator], dict]
    fixed: dict = field(default_factory=dict)
    supports_class_weight: bool = False
    max_rows: int | None = None  # offered only up to this many training rows
    why_max_rows: str = ""  # the reason, as the user is told it
    variant: dict = field(default_factory=dict)  # tried right after the defaults (see Proposer)
    # A fit's seconds grow about as rows ** fit_power: the refits on more rows than the
    # folds had are planned with it. A kernel SVM compares every pair of rows: on diamonds_cut
    # each doubling from 1,250 to 10,000 rows took 2.7x, 3.5x, 4.2x the seconds (0.2 -> 8 s).
    fit_power: float = 1.0

    def build(self, params: dict, seed: int, native_categories: list[int] | None = None,
              threads: int = FOREST_JOBS, rows: int = 0):
        """The estimator; `rows`, when known, caps the neighbours a query may ask for."""
        allowed = set(self.defaults) | {"class_weight"}
        unknown = set(params) - allowed
        if unknown:
            raise ValueError(f"options not allowed for {self.name}: {sorted(unknown)}")
        kwargs = {**self.fixed, **{k: v for k, v in params.items() if k not in SHAPING}}
        if "class_weight" in kwargs and not self.supports_class_weight:
            kwargs.pop("class_weight")
        if self.style == "hgb":
            kwargs["categorical_features"] = native_categories or None
        if "n_neighbors" in kwargs and rows:
            kwargs["n_neighbors"] = min(kwargs["n_neighbors"], rows)
        if "random_state" in inspect.signature(self.make).parameters:
            kwargs["random_state"] = seed
        if "n_jobs" in kwargs:
            kwargs["n_jobs"] = threads
        model = self.make(**kwargs)
        if params.get(TARGET) == LOG:
            return TransformedTargetRegressor(model, transformer=LogTarget())
        return model


# Options that shape a linear model's data rather than the estimator (see preprocessing):
# its numbers standardised or Yeo-Johnson transformed, and a regression target as it is or
# log(1 + y). A straight line in those spaces fits multiplicative relations (a price that
# is a total divided by a count): on the benchmark's txhousing, ridge's test error 0.133 ->
# 0.061, and a blend of it with boosting's defaults 0.048 -> 0.043 (5-fold out-of-fold
# error 0.049 -> 0.042); elsewhere about even (carseats 0.176 -> 0.174, bikeshare 0.589 ->
# 0.579, diabetes and randhie a little worse): the search keeps what cross-validates best.
# Regression only: for logistic regression the Yeo-Johnson numbers were even at best
# (test errors breast_cancer 2 -> 3 rows, oj 49 -> 48, penguins 2 -> 2, digits 12 -> 13),
# and on a few hundred rows another option mostly adds another chance of a lucky CV winner.
NUMERIC, TARGET = "numeric", "target"
IDENTITY, LOG = "identity", "log"
SHAPING = (NUMERIC, TARGET)


def _ridge_space(rng):
    return {"alpha": _log_uniform(rng, 1e-3, 1e3), NUMERIC: _choice(rng, [STANDARD, POWER]),
            TARGET: _choice(rng, [IDENTITY, LOG])}


def _forest_space(rng):
    return {
        "n_estimators": _choice(rng, [150, 250, 400]),
        "max_features": _choice(rng, ["sqrt", 0.3, 0.5, 0.7, 1.0]),
        "min_samples_leaf": _choice(rng, [1, 1, 2, 3, 5, 10]),
        "max_depth": _choice(rng, [None, None, 12, 20]),
    }


def _tree_space(rng):
    return {
        "max_depth": _choice(rng, [3, 5, 8, 12, 16, None]),
        "min_samples_leaf": _choice(rng, [1, 2, 5, 10, 20, 50]),
    }


def _hgb_space(rng):
    return {
        "learning_rate": _log_uniform(rng, 0.02, 0.3),
        "max_leaf_nodes": _choice(rng, [7, 15, 31, 63, 127]),
        "min_samples_leaf": _choice(rng, [3, 5, 10, 20, 40, 80]),
        "l2_regularization": _choice(rng, [0.0, 0.01, 0.1, 1.0, 10.0]),
        "max_features": _choice(rng, [0.5, 0.7, 0.9, 1.0]),
    }


# Poisson deviance fits counts and other non-negative, right-skewed targets (visits, rentals)
# better than squared error: 5-fold CV error on the benchmark's train parts 0.828 -> 0.807
# (randhie, doctor visits) and 0.054 -> 0.053 (bikeshare, rentals), about even on prices
# (txhousing). Only offered when no target value is negative (see Proposer).
SQUARED_ERROR, POISSON = "squared_error", "poisson"


def _hgb_regression_space(rng):
    return {**_hgb_space(rng), "loss": _choice(rng, [SQUARED_ERROR, POISSON])}


# k-nearest neighbours predicts from the training rows most like the new one: a model of its
# own kind, which trees approximate poorly where rows repeat (panel data: the same person's
# other years). On the benchmark's randhie (doctor visits; 2,760 distinct feature rows in
# 20,190) boosting's 5-fold CV error 0.825 -> 0.770 blended with it, test error 0.830 ->
# 0.756; it adds nothing where boosting is far ahead (bikeshare) and is rarely best alone.
# Brute-force search: nothing but arrays is saved (a KD tree is a type skops does not trust),
# and a query costs rows x columns, hence max_rows.
KNN_MAX_ROWS = 20_000
_KNN_WHY = "each prediction compares a row with all of them"
_KNN_DEFAULTS = {"n_neighbors": 10, "weights": "distance", NUMERIC: STANDARD}
_KNN_FIXED = {"algorithm": "brute"}


def _knn_space(rng):
    return {"n_neighbors": _choice(rng, [3, 5, 10, 20, 30, 50, 100]),
            "weights": _choice(rng, ["uniform", "distance"]),
            NUMERIC: _choice(rng, [STANDARD, RANGE])}


# An RBF-kernel support vector machine: a smooth boundary through the rows nearest it, strong
# where the signal is spread over many similar columns (pixels, spectra, sensor readings) and
# trees need many splits to follow it. On the benchmark's digits (3 splits): 5-fold CV errors
# 51 rows of 1,347 against extra trees' 78, test errors 14 of 450 against 24; about even or
# behind logistic regression on breast_cancer, penguins and oj. Its numbers are scaled to
# their range first (see preprocessing.RANGE), standardised as the variant. Classification
# only: a regression SVM needs its target scaled and an epsilon searched, and boosting or
# ridge led every regression set of the benchmark. Its fit compares every pair of rows
# (10,000 rows of diamonds: 8 s with the probabilities' folds), hence max_rows.
SVM_MAX_ROWS = 10_000
_SVM_DEFAULTS = {"C": 10.0, "gamma_factor": 1.0, NUMERIC: RANGE}


def _svm_space(rng):
    return {"C": _log_uniform(rng, 0.1, 300.0), "gamma_factor": _log_uniform(rng, 0.1, 10.0),
            NUMERIC: _choice(rng, [RANGE, STANDARD])}


_FOREST_DEFAULTS = {"n_estimators": 250, "max_features": "sqrt", "min_samples_leaf": 1,
                    "max_depth": None}
_FOREST_FIXED = {"n_jobs": FOREST_JOBS}
_TREE_DEFAULTS = {"max_depth": 8, "min_samples_leaf": 5}
_HGB_DEFAULTS = {"learning_rate": 0.08, "max_leaf_nodes": 31, "min_samples_leaf": 20,
                 "l2_regularization": 0.0, "max_features": 1.0}
_HGB_REGRESSION_DEFAULTS = {**_HGB_DEFAULTS, "loss": SQUARED_ERROR}
_HGB_FIXED = {"max_iter": 600, "early_stopping": True, "validation_fraction": 0.1,
              "n_iter_no_change": 25}

CLASSIFIERS = {
    f.name: f for f in [
        Family("logistic_regression", "Logistic regression", "classification", "linear",
               LogisticRegression, {"C": 1.0},
               lambda rng: {"C": _log_uniform(rng, 1e-3, 1e2)},
               {"max_iter": 500}, supports_class_weight=True),
        Family("decision_tree", "Decision tree", "classification", "tree",
               DecisionTreeClassifier, _TREE_DEFAULTS, _tree_space,
               supports_class_weight=True),
        Family("random_forest", "Random forest", "classification", "tree",
               RandomForestClassifier, _FOREST_DEFAULTS, _forest_space, _FOREST_FIXED,
               supports_class_weight=True),
        Family("extra_trees", "Extra trees", "classification", "tree",
               ExtraTreesClassifier, _FOREST_DEFAULTS, _forest_space, _FOREST_FIXED,
               supports_class_weight=True),
        Family("hist_gradient_boosting", "Histogram gradient boosting", "classification", "hgb",
               HistGradientBoostingClassifier, _HGB_DEFAULTS, _hgb_space, _HGB_FIXED,
               supports_class_weight=True),
        Family("k_nearest_neighbors", "k-nearest neighbours", "classification", "linear",
               KNeighborsClassifier, _KNN_DEFAULTS, _knn_space, _KNN_FIXED,
               max_rows=KNN_MAX_ROWS, why_max_rows=_KNN_WHY),
        Family("support_vector_machine", "Support vector machine (RBF kernel)",
               "classification", "linear", SupportVectorClassifier, _SVM_DEFAULTS, _svm_space,
               supports_class_weight=True, max_rows=SVM_MAX_ROWS,
               why_max_rows="its fit compares every pair of rows",
               variant={NUMERIC: STANDARD}, fit_power=2.0),
    ]
}

REGRESSORS = {
    f.name: f for f in [
        Family("ridge", "Ridge (linear) regression", "regression", "linear",
               Ridge, {"alpha": 1.0, NUMERIC: STANDARD, TARGET: IDENTITY}, _ridge_space,
               variant={NUMERIC: POWER}),
        Family("decision_tree", "Decision tree", "regression", "tree",
               DecisionTreeRegressor, _TREE_DEFAULTS, _tree_space),
        Family("random_forest", "Random forest", "regression", "tree",
               RandomForestRegressor, {**_FOREST_DEFAULTS, "max_features": 0.5},
               _forest_space, _FOREST_FIXED),
        Family("extra_trees", "Extra trees", "regression", "tree",
               ExtraTreesRegressor, {**_FOREST_DEFAULTS, "max_features": 0.7},
               _forest_space, _FOREST_FIXED),
        Family("hist_gradient_boosting", "Histogram gradient boosting", "regression", "hgb",
               HistGradientBoostingRegressor, _HGB_REGRESSION_DEFAULTS, _hgb_regression_space,
               _HGB_FIXED),
        Family("k_nearest_neighbors", "k-nearest neighbours", "regression", "linear",
               KNeighborsRegressor, _KNN_DEFAULTS, _knn_space, _KNN_FIXED,
               max_rows=KNN_MAX_ROWS, why_max_rows=_KNN_WHY),
    ]
}

FAMILIES: dict[str, dict[str, Family]] = {"classification": CLASSIFIERS, "regression": REGRESSORS}
ENSEMBLE = "ensemble"


def families_for(task: str, names: list[str] | None = None, n_rows: int = 0) -> list[Family]:
    """The requested families of a task in registry order (all when `names` is empty), less
    those not offered for `n_rows` training rows (see Family.max_rows)."""
    registry = FAMILIES[task]
    chosen = [registry[n] for n in registry if not names or n in set(names)]
    return [f for f in chosen if not too_many_rows(f, n_rows)]


def too_many_rows(family: Family, n_rows: int) -> str | None:
    """Why `family` is not offered for `n_rows` training rows, or None."""
    if family.max_rows is None or n_rows <= family.max_rows:
        return None
    return (f"{family.label} is offered up to {family.max_rows:,} rows "
            f"(this data has {n_rows:,}): {family.why_max_rows}")
