"""The preprocessing half of every saved pipeline, shaped by what the model family needs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    PowerTransformer,
    StandardScaler,
    TargetEncoder,
)

from app.ml.training.transformers import DATE_PARTS, NUMERIC_INPUT_KINDS, InputCaster

# Categorical columns with at most this many values are one-hot encoded for linear and tree
# models; above it they get target encoding (learned inside each CV fold, so it cannot leak).
ONE_HOT_MAX = 20
# Linear models one-hot encode up to LINEAR_ONE_HOT_MAX values (a coefficient per value;
# a target encoding is one number on the raw target's scale, which a model of log(1 + y)
# cannot use): on the benchmark's txhousing (46 cities) ridge's test error 0.081 -> 0.060.
# The extra columns are capped at LINEAR_EXTRA_WIDTH (fewest values first) to bound memory.
LINEAR_ONE_HOT_MAX, LINEAR_EXTRA_WIDTH = 64, 256
# Histogram gradient boosting handles categories natively up to its bin count.
NATIVE_CATEGORY_MAX = 250

# Styles: "linear" wants scaled numbers; "tree" does not; "hgb" takes native categories.
STYLES = ("linear", "tree", "hgb")


def split_columns(kinds: dict[str, str], cardinality: dict[str, int],
                  linear: bool = False) -> dict[str, list[str]]:
    """Columns after InputCaster grouped as numeric / low-cardinality (one-hot) /
    high-cardinality (target-encoded) labels, and those boosting takes natively."""
    groups: dict[str, list[str]] = {"numeric": [], "low": [], "high": [], "native": []}
    for name, kind in kinds.items():
        if kind in NUMERIC_INPUT_KINDS:
            groups["numeric"].append(name)
        elif kind == "datetime":
            groups["numeric"].extend(f"{name}__{part}" for part in DATE_PARTS)
        else:
            n = cardinality.get(name, 0)
            groups["low" if n <= ONE_HOT_MAX else "high"].append(name)
            if n <= NATIVE_CATEGORY_MAX:
                groups["native"].append(name)
    if linear:
        width = 0
        for name in sorted(groups["high"], key=lambda c: (cardinality.get(c, 0), c)):
            width += cardinality.get(name, 0)
            if cardinality.get(name, 0) <= LINEAR_ONE_HOT_MAX and width <= LINEAR_EXTRA_WIDTH:
                groups["high"].remove(name)
                groups["low"].append(name)
    return groups


# How a linear style's numbers are scaled: standardised; Yeo-Johnson transformed (which also
# standardises); or to the range 0-1 seen in training. The range keeps the columns' relative
# spread, which kernels and distances need where columns share a unit: on the benchmark's
# digits (pixel intensities; a border pixel that is nearly always 0 becomes, standardised, as
# loud as a stroke) an RBF SVM's 5-fold CV errors 79 -> 51 rows of 1,347 over 3 splits,
# k-nearest neighbours' 118 -> 60; about even elsewhere (breast_cancer, penguins, oj).
STANDARD, POWER, RANGE = "standard", "power", "range"
_SCALERS = {STANDARD: StandardScaler, POWER: PowerTransformer, RANGE: MinMaxScaler}


def _numeric(scaling: str | None) -> Pipeline:
    """Median imputation with missing-value flags, then `scaling` (None: as they are; a flag
    or a constant column stays two values or one)."""
    imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    if scaling is None:
        return make_pipeline(imputer)
    return make_pipeline(imputer, _SCALERS[scaling]())


def _target_encoder(task: str, seed: int) -> TargetEncoder:
    # Its cross-fitting shuffles the rows: without a seed two fits of the same model differ.
    # (sklearn 1.9 wants the seed in the splitter: the one `cv=3` would pick for the task.)
    if task == "regression":
        return TargetEncoder(target_type="continuous", cv=KFold(3, shuffle=True,
                                                                random_state=seed))
    return TargetEncoder(target_type="auto", cv=StratifiedKFold(3, shuffle=True,
                                                                random_state=seed))


def build_preprocessor(
    kinds: dict[str, str], cardinality: dict[str, int], style: str, task: str, seed: int = 0,
    scaling: str = STANDARD,
) -> tuple[Pipeline, list[int]]:
    """Caster + column transformer for one style; also the indices of native categorical outputs.

    `scaling`: how a linear style's numbers (and target encodings) are scaled, see _SCALERS."""
    groups = split_columns(kinds, cardinality, linear=style == "linear")
    parts: list[tuple] = []
    native: list[int] = []
    if style == "hgb":
        # Native categories first so their output indices are 0..k-1.
        ordinal = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=np.nan,
            encoded_missing_value=np.nan, dtype=np.float64,
        )
        if groups["native"]:
            parts.append(("native", ordinal, groups["native"]))
            native = list(range(len(groups["native"])))
        high = [c for c in groups["low"] + groups["high"] if c not in groups["native"]]
        if high:
            parts.append(("high", _target_encoder(task, seed), high))
        if groups["numeric"]:
            parts.append(("numeric", _numeric(None), groups["numeric"]))
    else:
        scale = style == "linear"
        if groups["numeric"]:
            parts.append(("numeric", _numeric(scaling if scale else None), groups["numeric"]))
        if groups["low"]:
            onehot = OneHotEncoder(
                handle_unknown="infrequent_if_exist", min_frequency=2, sparse_output=False,
                dtype=np.float64,
            )
            parts.append(("low", onehot, groups["low"]))
        if groups["high"]:
            encoder = _target_encoder(task, seed)
            step = make_pipeline(encoder, _SCALERS[RANGE if scaling == RANGE else STANDARD]()) \
                if scale else encoder
            parts.append(("high", step, groups["high"]))
    columns = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("cast", InputCaster(kinds)), ("columns", columns)]), native


def category_cardinality(df: pd.DataFrame, kinds: dict[str, str]) -> dict[str, int]:
    """Distinct non-missing values of each label column (decides the encoder)."""
    return {
        name: int(df[name].nunique(dropna=True))
        for name, kind in kinds.items()
        if kind not in NUMERIC_INPUT_KINDS and kind != "datetime"
    }
