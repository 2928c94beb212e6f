"""The saved pipeline takes raw rows: unseen categories, missing columns, dates, None."""

import numpy as np
import pandas as pd
import pytest

from app.ml.training.candidates import fit_limited, make_pipeline
from app.ml.training.families import CLASSIFIERS
from app.ml.training.preprocessing import (
    LINEAR_EXTRA_WIDTH,
    category_cardinality,
    split_columns,
)
from app.ml.training.transformers import InputCaster

FEATURES = {"x": "float", "count": "integer", "color": "categorical", "signed": "datetime"}


@pytest.fixture(params=["logistic_regression", "random_forest", "hist_gradient_boosting"])
def fitted(request, frame):
    family = CLASSIFIERS[request.param]
    X = frame[list(FEATURES)]
    pipe = make_pipeline(family, family.defaults, 0, FEATURES,
                         category_cardinality(X, FEATURES), "classification")
    return fit_limited(pipe, X, frame["label"].to_numpy(dtype=object))


def test_predictions_use_the_files_labels(fitted, frame):
    pred = fitted.predict(frame[list(FEATURES)].head(20))
    assert set(pred) <= {"yes", "no"}


def test_unseen_category_none_and_strings_predict(fitted):
    rows = pd.DataFrame([
        {"x": None, "count": "3.0", "color": "purple", "signed": "2022-05-01T10:00:00"},
        {"x": "1.5", "count": None, "color": None, "signed": None},
        {"x": float("inf"), "count": 7, "color": "red", "signed": "not a date"},
    ])
    pred = fitted.predict(rows)
    proba = fitted.predict_proba(rows)
    assert len(pred) == 3 and np.allclose(proba.sum(axis=1), 1)


def test_all_missing_column_is_imputed(frame):
    family = CLASSIFIERS["logistic_regression"]
    X = frame[list(FEATURES)].copy()
    X["x"] = np.nan
    pipe = make_pipeline(family, family.defaults, 0, FEATURES,
                         category_cardinality(X, FEATURES), "classification")
    fit_limited(pipe, X, frame["label"].to_numpy(dtype=object))
    assert len(pipe.predict(X.head(5))) == 5


def test_dates_become_parts_and_extra_columns_are_ignored():
    caster = InputCaster({"when": "datetime", "n": "integer"}).fit(None)
    out = caster.transform(pd.DataFrame({"when": ["2021-03-04 05:06:07", None],
                                         "n": ["12", "x"], "extra": [1, 2]}))
    assert out.loc[0, "when__year"] == 2021 and out.loc[0, "when__hour"] == 5
    assert np.isnan(out.loc[1, "when__month"]) and out.loc[0, "n"] == 12
    assert np.isnan(out.loc[1, "n"])
    assert "extra" not in out
    assert list(out.columns) == list(caster.get_feature_names_out())


def test_high_cardinality_column_gets_target_encoding(frame):
    X = frame[list(FEATURES)].copy()
    X["city"] = [f"city{i % 100}" for i in range(len(X))]
    features = {**FEATURES, "city": "categorical"}
    family = CLASSIFIERS["logistic_regression"]
    pipe = make_pipeline(family, family.defaults, 0, features,
                         category_cardinality(X, features), "classification")
    fit_limited(pipe, X, frame["label"].to_numpy(dtype=object))
    assert "high" in pipe.named_steps["columns"].named_transformers_
    assert len(pipe.predict(X.assign(city="never seen").head(3))) == 3


def test_a_target_encoded_model_fitted_twice_with_one_seed_is_the_same_model(frame):
    """The target encoder's cross-fitting shuffles rows: it must take the job's seed."""
    X = frame[list(FEATURES)].copy()
    X["city"] = [f"city{i % 100}" for i in range(len(X))]
    features = {**FEATURES, "city": "categorical"}
    family = CLASSIFIERS["logistic_regression"]
    y = frame["label"].to_numpy(dtype=object)

    def proba(seed):
        pipe = make_pipeline(family, family.defaults, seed, features,
                             category_cardinality(X, features), "classification")
        return fit_limited(pipe, X, y).predict_proba(X)

    np.testing.assert_array_equal(proba(0), proba(0))
    assert not np.array_equal(proba(0), proba(1))


def test_linear_models_one_hot_encode_a_few_dozen_values_and_trees_target_encode_them():
    kinds = {"city": "categorical", "shop": "categorical", "street": "categorical"}
    cardinality = {"city": 40, "shop": 60, "street": 300}
    linear = split_columns(kinds, cardinality, linear=True)
    assert linear["low"] == ["city", "shop"] and linear["high"] == ["street"]
    trees = split_columns(kinds, cardinality)
    assert trees["low"] == [] and trees["high"] == ["city", "shop", "street"]


def test_the_extra_one_hot_columns_of_a_linear_model_are_capped():
    """Fewest values first, until LINEAR_EXTRA_WIDTH columns: memory stays bounded."""
    kinds = {f"c{i}": "categorical" for i in range(8)}
    cardinality = {f"c{i}": 60 - i for i in range(8)}  # c7 has the fewest values
    groups = split_columns(kinds, cardinality, linear=True)
    assert sorted(groups["low"]) == ["c4", "c5", "c6", "c7"]  # 53 + 54 + 55 + 56 = 218
    assert sum(cardinality[c] for c in groups["low"]) <= LINEAR_EXTRA_WIDTH
