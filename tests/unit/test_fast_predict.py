"""The compiled few-row path predicts exactly what the sklearn pipeline predicts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from app.ml.fast_predict import fast_model
from app.ml.serving import check_rows, predict
from app.ml.training.preprocessing import build_preprocessor


@pytest.mark.parametrize("classes", [["no", "yes"], ["a", "b", "c"]])
def test_classification_probabilities_are_identical(models, classes):
    n = 400
    y = np.random.default_rng(1).choice(classes, n)
    model = models.fit("classification", y, kinds=models.without_town, iterations=30)
    compiled = fast_model(model)
    assert compiled is not None
    frame = check_rows(models.rows(60, models.without_town), models.features(models.without_town),
                       max_rows=100).frame
    expected = model.predict_proba(frame)
    one_by_one = np.vstack([compiled.predict_proba(frame.iloc[[i]]) for i in range(len(frame))])
    assert np.array_equal(one_by_one, expected)
    assert np.array_equal(compiled.predict_proba(frame.iloc[:10]), expected[:10])
    assert list(compiled.predict(frame)) == list(model.predict(frame))


def test_regression_values_are_identical(models):
    y = np.random.default_rng(2).normal(size=300)
    model = models.fit("regression", y, kinds=models.without_town, iterations=30)
    frame = check_rows(models.rows(40, models.without_town), models.features(models.without_town),
                       max_rows=100).frame
    expected = model.predict(frame)
    got = np.concatenate([fast_model(model).predict(frame.iloc[[i]]) for i in range(len(frame))])
    assert np.array_equal(got, expected)


def test_serving_answers_the_same_through_either_path(models):
    y = np.random.default_rng(3).choice(["x", "y", "z"], 300)
    model = models.fit("classification", y, kinds=models.without_town, iterations=30)
    assert fast_model(model) is not None
    frame = check_rows(models.rows(5, models.without_town), models.features(models.without_town),
                       max_rows=100).frame
    labels, probabilities = predict(model, frame, "classification", ["x", "y", "z"])
    proba = model.predict_proba(frame)
    assert labels == [["x", "y", "z"][i] for i in np.argmax(proba, axis=1)]
    assert probabilities[0] == {c: float(p) for c, p in zip(["x", "y", "z"], proba[0], strict=True)}


def test_an_unknown_pipeline_is_left_to_sklearn(models):
    from sklearn.linear_model import LogisticRegression

    X = models.frame(100, 0)[["size", "count"]].fillna(0)
    y = np.random.default_rng(4).choice(["a", "b"], 100)
    pre, _ = build_preprocessor({"size": "float", "count": "integer"}, {}, "linear", "classification")
    model = Pipeline([*pre.steps, ("model", LogisticRegression())]).fit(X, y)
    assert fast_model(model) is None
    labels, _ = predict(model, X.iloc[:3], "classification", ["a", "b"])
    assert labels == list(model.predict(X.iloc[:3]))


def test_poisson_boosting_values_are_identical(models):
    y = np.random.default_rng(5).poisson(3.0, size=300).astype(float)
    model = models.fit("regression", y, kinds=models.without_town, iterations=30)
    model.set_params(model__loss="poisson").fit(models.frame(300, 0, models.without_town), y)
    frame = check_rows(models.rows(40, models.without_town), models.features(models.without_town),
                       max_rows=100).frame
    expected = model.predict(frame)
    assert (expected > 0).all()  # the log link's inverse, not raw sums
    got = np.concatenate([fast_model(model).predict(frame.iloc[[i]]) for i in range(len(frame))])
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_weighted_ensemble_of_boosting_pipelines_is_compiled_and_identical(models, task):
    from app.ml.training.transformers import WeightedEnsemble

    rng = np.random.default_rng(6)
    y = rng.choice(["a", "b", "c"], 300) if task == "classification" else rng.poisson(4.0, 300) * 1.0
    kinds = models.without_town
    members = [models.fit(task, y, kinds=kinds, iterations=n) for n in (10, 25, 40)]
    if task == "regression":
        members[1].set_params(model__loss="poisson").fit(models.frame(300, 0, kinds), y)
    ensemble = WeightedEnsemble(members, [0.5, 0.3, 0.2], task).fit(None)
    compiled = fast_model(ensemble)
    assert compiled is not None
    frame = check_rows(models.rows(30, kinds), models.features(kinds), max_rows=100).frame
    one_by_one = np.concatenate([compiled.predict(frame.iloc[[i]]) for i in range(len(frame))])
    assert list(one_by_one) == list(ensemble.predict(frame))
    if task == "classification":
        assert np.array_equal(compiled.predict_proba(frame), ensemble.predict_proba(frame))


def test_an_ensemble_with_a_member_that_does_not_compile_is_left_to_sklearn(models):
    from app.ml.training.transformers import WeightedEnsemble

    y = np.random.default_rng(7).normal(size=200)
    boosting = models.fit("regression", y, kinds=models.without_town)
    forest = models.fit("regression", y, family="random_forest", style="tree",
                        kinds=models.without_town)
    assert fast_model(WeightedEnsemble([boosting, forest], [0.5, 0.5], "regression").fit(None)) is None


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_an_ensemble_whose_members_saw_different_categories_is_compiled_and_identical(
        models, task):
    """Members fitted on different rows have different category codes: the one-pass walk
    over all members' trees must keep each member's own encoding."""
    from sklearn.base import clone

    from app.ml.training.transformers import WeightedEnsemble

    rng = np.random.default_rng(8)
    n, kinds = 90, models.without_town  # 40 cities in 90 rows: each member misses some
    y = np.asarray(rng.choice(["a", "b", "c"], n) if task == "classification"
                   else rng.normal(size=n))
    template = models.fit(task, y, kinds=kinds, iterations=15)
    X = models.frame(n, 0, kinds)
    parts = [np.arange(n) % 5 != k for k in range(5)]
    bag = WeightedEnsemble([clone(template).fit(X[p], y[p]) for p in parts], [1.0] * 5,
                           task).fit(None)
    seen = [frozenset(m[1].named_transformers_["native"].categories_[1]) for m in bag.members]
    assert len(set(seen)) > 1
    compiled = fast_model(bag)
    assert compiled is not None
    frame = check_rows(models.rows(30, kinds), models.features(kinds), max_rows=100).frame
    one_by_one = np.concatenate([compiled.predict(frame.iloc[[i]]) for i in range(len(frame))])
    assert list(one_by_one) == list(bag.predict(frame))
    if task == "classification":
        assert np.array_equal(compiled.predict_proba(frame), bag.predict_proba(frame))
