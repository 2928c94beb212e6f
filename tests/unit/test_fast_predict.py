"""The compiled few-row path predicts exactly what the sklearn pipeline predicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from app.ml.fast_predict import fast_model
from app.ml.serving import check_rows, predict
from app.ml.training.families import FAMILIES
from app.ml.training.preprocessing import build_preprocessor, category_cardinality

KINDS = {"size": "float", "count": "integer", "colour": "categorical", "city": "categorical",
         "seen": "datetime", "note": "text"}


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "size": rng.normal(10, 3, n),
        "count": rng.integers(0, 50, n).astype(float),
        "colour": rng.choice(["red", "green", "blue"], n).astype(object),
        "city": rng.choice([f"c{i}" for i in range(40)], n).astype(object),
        "seen": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
        "note": rng.choice(["a b", "c d", "e f"], n).astype(object),
    })
    df.loc[rng.random(n) < 0.1, "size"] = np.nan
    df.loc[rng.random(n) < 0.1, "colour"] = np.nan
    return df


def _fit(task: str, target, kinds=KINDS, seed=0) -> Pipeline:
    X = _frame(len(target), seed)[list(kinds)]
    pre, native = build_preprocessor(kinds, category_cardinality(X, kinds), "hgb", task)
    est = FAMILIES[task]["hist_gradient_boosting"].build({}, seed=0, native_categories=native)
    est.set_params(max_iter=30, early_stopping=False)
    return Pipeline([*pre.steps, ("model", est)]).fit(X, target)


def _rows(n: int) -> list[dict]:
    rng = np.random.default_rng(7)
    rows = []
    for _ in range(n):
        rows.append({
            "size": None if rng.random() < 0.2 else float(rng.normal(10, 4)),
            "count": None if rng.random() < 0.1 else int(rng.integers(-5, 60)),
            "colour": rng.choice(["red", "green", "blue", "purple", None]),
            "city": rng.choice(["c1", "c7", "c39", "nowhere", None]),
            "seen": rng.choice(["2021-03-04", "2019-12-31T10:00:00", None]),
            "note": rng.choice(["a b", "zz", None]),
        })
    return rows


def _features(kinds=KINDS):
    return [{"name": n, "kind": k} for n, k in kinds.items()]


@pytest.mark.parametrize("classes", [["no", "yes"], ["a", "b", "c"]])
def test_classification_probabilities_are_identical(classes):
    n = 400
    y = np.random.default_rng(1).choice(classes, n)
    model = _fit("classification", y)
    compiled = fast_model(model)
    assert compiled is not None
    frame = check_rows(_rows(60), _features(), max_rows=100).frame
    expected = model.predict_proba(frame)
    one_by_one = np.vstack([compiled.predict_proba(frame.iloc[[i]]) for i in range(len(frame))])
    assert np.array_equal(one_by_one, expected)
    assert np.array_equal(compiled.predict_proba(frame.iloc[:10]), expected[:10])
    assert list(compiled.predict(frame)) == list(model.predict(frame))


def test_regression_values_are_identical():
    y = np.random.default_rng(2).normal(size=300)
    model = _fit("regression", y)
    frame = check_rows(_rows(40), _features(), max_rows=100).frame
    expected = model.predict(frame)
    got = np.concatenate([fast_model(model).predict(frame.iloc[[i]]) for i in range(len(frame))])
    assert np.array_equal(got, expected)


def test_serving_answers_the_same_through_either_path():
    y = np.random.default_rng(3).choice(["x", "y", "z"], 300)
    model = _fit("classification", y)
    frame = check_rows(_rows(5), _features(), max_rows=100).frame
    labels, probabilities = predict(model, frame, "classification", ["x", "y", "z"])
    proba = model.predict_proba(frame)
    assert labels == [["x", "y", "z"][i] for i in np.argmax(proba, axis=1)]
    assert probabilities[0] == {c: float(p) for c, p in zip(["x", "y", "z"], proba[0], strict=True)}


def test_an_unknown_pipeline_is_left_to_sklearn():
    from sklearn.linear_model import LogisticRegression

    X = _frame(100, 0)[["size", "count"]].fillna(0)
    y = np.random.default_rng(4).choice(["a", "b"], 100)
    pre, _ = build_preprocessor({"size": "float", "count": "integer"}, {}, "linear", "classification")
    model = Pipeline([*pre.steps, ("model", LogisticRegression())]).fit(X, y)
    assert fast_model(model) is None
    labels, _ = predict(model, X.iloc[:3], "classification", ["a", "b"])
    assert labels == list(model.predict(X.iloc[:3]))
