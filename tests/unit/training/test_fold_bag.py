"""FoldBag: k fits on k-fold training parts, averaged; and the search's refit uses it."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeClassifier

from app.ml.training import SearchRequest, run_search
from app.ml.training.transformers import FoldBag


def test_regression_bag_averages_members_each_fitted_on_four_fifths_of_the_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.5, size=100)
    bag = FoldBag(LinearRegression(), n_folds=5, random_state=0).fit(X, y)
    assert len(bag.members_) == 5
    assert {round(m.n_features_in_) for m in bag.members_} == {3}
    coefs = np.array([m.coef_ for m in bag.members_])
    assert len({tuple(np.round(c, 8)) for c in coefs}) == 5  # five different training parts
    np.testing.assert_allclose(bag.predict(X), np.mean([m.predict(X) for m in bag.members_], 0))
    assert bag.estimator.__class__ is LinearRegression and not hasattr(bag.estimator, "coef_")


def test_classification_bag_aligns_a_class_one_member_never_saw():
    X = np.arange(40, dtype=float).reshape(-1, 1)
    y = np.array(["a"] * 20 + ["b"] * 19 + ["rare"], dtype=object)
    bag = FoldBag(DecisionTreeClassifier(random_state=0), n_folds=5, random_state=0).fit(X, y)
    assert list(bag.classes_) == ["a", "b", "rare"]
    assert any(len(m.classes_) == 2 for m in bag.members_)  # too few "rare" rows to stratify
    proba = bag.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(bag.predict(X)) <= {"a", "b", "rare"}
    assert (bag.predict(X[:18]) == "a").all()


@pytest.mark.parametrize("labels", [["x", "y"], [3, 7]])
def test_stratified_when_every_class_has_a_row_per_fold(labels):
    X = np.arange(50, dtype=float).reshape(-1, 1)
    y = np.array(labels * 25, dtype=object if isinstance(labels[0], str) else None)
    bag = FoldBag(DecisionTreeClassifier(), n_folds=5).fit(X, y)
    assert all(list(m.classes_) == labels for m in bag.members_)
    assert list(bag.predict(X[:4])) == labels * 2


@pytest.mark.parametrize("target", ["label", "amount"])
def test_boosting_is_refitted_on_all_rows_as_a_fold_bag_when_time_allows(frame, kinds, target):
    request = SearchRequest(target=target, time_budget_s=60, max_candidates=3,
                            families=["hist_gradient_boosting", "decision_tree"])
    result = run_search(frame, kinds, request, on_progress=lambda p: None,
                        should_stop=lambda: False)
    hgb = result.models["hist_gradient_boosting"]
    assert hgb.refit_full and hgb.trained_rows == result.n_train + result.n_test
    assert hgb.bagged_folds == 5 and hgb.algorithm.endswith("average of 5 fits")
    model = hgb.pipeline.steps[-1][1]
    assert isinstance(model, FoldBag) and len(model.members_) == 5
    assert isinstance(model.members_[0], HistGradientBoostingRegressor) == (target == "amount")
    tree = result.models["decision_tree"]
    assert tree.refit_full and tree.bagged_folds == 0
    assert not isinstance(tree.pipeline.steps[-1][1], FoldBag)
    rows = frame.drop(columns=[target]).head(7)
    assert len(result.best.pipeline.predict(rows)) == 7


def test_no_bag_when_only_a_single_refit_fits_in_the_time_left(frame, kinds, monkeypatch):
    from app.ml.training import finalize
    monkeypatch.setattr(finalize, "BAG_COST", 1e6)  # a bag now looks far too slow
    request = SearchRequest(target="amount", time_budget_s=60, max_candidates=2,
                            families=["hist_gradient_boosting"])
    result = run_search(frame, kinds, request, on_progress=lambda p: None,
                        should_stop=lambda: False)
    hgb = result.models["hist_gradient_boosting"]
    assert hgb.refit_full and hgb.bagged_folds == 0
    assert not isinstance(hgb.pipeline.steps[-1][1], FoldBag)
