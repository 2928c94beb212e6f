"""The save-time estimate the budget plans with follows a model's size, not a fixed guess."""

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.pipeline import Pipeline

from app.ml.training.costs import SAVE_FIXED_S, save_seconds, tree_size
from app.ml.training.transformers import WeightedEnsemble


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, X[:, 0] + np.sin(3 * X[:, 1]) + rng.normal(scale=0.3, size=n)


def test_boosting_estimate_counts_trees_and_nodes_not_seconds_per_tree():
    X, y = _data(2_000)
    model = HistGradientBoostingRegressor(max_iter=300, early_stopping=False,
                                          max_leaf_nodes=31).fit(X, y)
    trees, nodes = tree_size(model)
    assert trees == 300 and 300 < nodes <= 300 * 61
    # 300 boosting trees save in about a second (the old guess, 0.05 s a tree, said 15.8 s
    # and made a tracked job stop its search at 40 % of the budget).
    assert save_seconds(Pipeline([("model", model)])) < 3.0
    # Its trees are capped at 31 leaves: more rows do not make them bigger.
    assert save_seconds(model, rows_scale=10.0) == save_seconds(model)


def test_forest_estimate_grows_with_its_nodes_and_with_the_rows_it_will_see():
    X, y = _data(4_000)
    small = RandomForestRegressor(20, min_samples_leaf=50, random_state=0).fit(X, y)
    deep = RandomForestRegressor(20, random_state=0).fit(X, y)
    assert tree_size(small)[0] == tree_size(deep)[0] == 20
    assert save_seconds(deep) > save_seconds(small) > SAVE_FIXED_S
    assert save_seconds(deep, rows_scale=5.0) > 2 * save_seconds(deep) - SAVE_FIXED_S


def test_ensemble_estimate_is_the_sum_of_its_members_and_other_models_cost_the_fixed_part():
    X, y = _data(500)
    a = RandomForestRegressor(10, random_state=0).fit(X, y)
    b = HistGradientBoostingRegressor(max_iter=20).fit(X, y)
    blend = WeightedEnsemble([a, b], [0.5, 0.5], "regression")
    assert save_seconds(blend) == save_seconds(a) + save_seconds(b)
    assert tree_size(object()) == (0, 0)
    assert save_seconds(object()) == SAVE_FIXED_S
