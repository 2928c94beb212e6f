"""k-nearest neighbours: a family of its own kind, its row limit, and what its folds cost."""

import dataclasses
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.pipeline import Pipeline

from app.ml.tracking import InMemoryTracker
from app.ml.training import SearchRequest, TrainingRejected, run_search
from app.ml.training.candidates import Candidate, cross_validate, fit_limited, make_pipeline
from app.ml.training.families import FAMILIES, KNN_MAX_ROWS, REGRESSORS, families_for
from app.ml.training.preprocessing import category_cardinality
from app.ml.training.search import _folds

KNN = "k_nearest_neighbors"


def _panel(people=120, years=4, seed=0):
    """Panel data: each person's rows repeat their features; the target is mostly the
    person's own level, which the features do not explain."""
    rng = np.random.default_rng(seed)
    person = pd.DataFrame({"age": rng.integers(20, 70, people).astype(float),
                           "income": rng.normal(50, 15, people).round(1),
                           "region": rng.choice(["north", "south", "east"], people).astype(object)})
    level = rng.gamma(2.0, 2.0, people)
    rows = person.loc[np.repeat(np.arange(people), years)].reset_index(drop=True)
    rows["visits"] = np.repeat(level, years) + rng.normal(0, 0.5, people * years)
    return rows, {"age": "float", "income": "float", "region": "categorical",
                  "visits": "float"}


def test_neighbours_find_a_row_seen_before_where_a_tree_sees_noise():
    """What the family is for: rows that repeat (a person's other years). On new rows of
    people seen in training it predicts their own level; a shallow tree cannot."""
    frame, kinds = _panel()
    X, y = frame.drop(columns="visits"), frame["visits"].to_numpy()
    features = {k: v for k, v in kinds.items() if k != "visits"}
    seen, new = np.arange(len(frame)) % 4 != 0, np.arange(len(frame)) % 4 == 0
    errors = {}
    for name in (KNN, "decision_tree"):
        family = REGRESSORS[name]
        params = {**family.defaults, **({"max_depth": 3} if name == "decision_tree" else {})}
        pipe = make_pipeline(family, params, 0, features,
                             category_cardinality(X, features), "regression", int(seen.sum()))
        fit_limited(pipe, X[seen], y[seen])
        errors[name] = float(np.mean((pipe.predict(X[new]) - y[new]) ** 2))
    assert errors[KNN] < 0.5 * errors["decision_tree"]


def test_neighbours_never_ask_for_more_rows_than_a_fit_has(frame):
    family = FAMILIES["classification"][KNN]
    features = {"x": "float", "count": "integer", "color": "categorical"}
    X, y = frame[list(features)].head(8), frame["label"].head(8).to_numpy(dtype=object)
    pipe = make_pipeline(family, {**family.defaults, "n_neighbors": 50}, 0, features,
                         category_cardinality(X, features), "classification", len(X))
    fit_limited(pipe, X, y)
    assert pipe[-1].n_neighbors == 8
    assert len(pipe.predict(frame[list(features)])) == len(frame)


def test_a_neighbours_search_keeps_a_model_that_takes_raw_rows_and_saves_trusted(frame, kinds):
    tracker = InMemoryTracker()
    result = run_search(frame, kinds, SearchRequest(target="label", time_budget_s=30,
                                                    max_candidates=3, families=[KNN]),
                        on_progress=lambda p: None, should_stop=lambda: False, tracker=tracker,
                        )
    assert result.best_family == KNN
    assert {c["family"] for c in result.candidates} == {KNN}
    rows = frame.head(4).copy()
    rows.loc[0, "color"] = "violet"  # unseen
    rows.loc[1, ["x", "count", "color"]] = None
    assert list(result.best.pipeline.predict(rows)) == list(
        tracker.load_model(result.best.model_uri).predict(rows))


def test_neighbours_are_offered_up_to_their_row_limit():
    assert KNN in [f.name for f in families_for("regression", None, KNN_MAX_ROWS)]
    assert KNN not in [f.name for f in families_for("regression", None, KNN_MAX_ROWS + 1)]
    assert [f.name for f in families_for("regression", [KNN, "ridge"], KNN_MAX_ROWS + 1)] \
        == ["ridge"]


def test_asking_for_neighbours_alone_on_too_many_rows_is_refused_with_the_reason():
    request = SearchRequest(target="y", families=[KNN])
    request.checked("regression", KNN_MAX_ROWS)
    with pytest.raises(TrainingRejected) as err:
        request.checked("regression", KNN_MAX_ROWS + 1)
    assert "20,000 rows" in err.value.errors["models"][0]
    SearchRequest(target="y", families=[KNN, "ridge"]).checked("regression", KNN_MAX_ROWS + 1)


def test_a_search_says_why_the_neighbours_it_was_asked_for_were_left_out(frame, kinds,
                                                                         monkeypatch):
    small = dataclasses.replace(FAMILIES["classification"][KNN], max_rows=50)
    monkeypatch.setitem(FAMILIES["classification"], KNN, small)
    result = run_search(frame, kinds, SearchRequest(target="label", time_budget_s=30,
                                                    max_candidates=2,
                                                    families=[KNN, "decision_tree"]),
                        on_progress=lambda p: None, should_stop=lambda: False)
    assert {c["family"] for c in result.candidates} == {"decision_tree"}
    assert any("offered up to 50 rows" in w for w in result.warnings)


class _SlowToPredict(RegressorMixin, BaseEstimator):
    """Fits at once and takes `pause` seconds to predict, as neighbours do."""

    def __init__(self, pause=0.05):
        self.pause = pause

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        time.sleep(self.pause)
        return np.full(len(X), self.mean_)


def test_a_folds_place_in_the_schedule_counts_its_predictions_too():
    """The deadline check before each fold plans with fit + predict seconds: a family that
    spends its folds predicting (neighbours) must not look free to the schedule."""
    X = pd.DataFrame({"a": np.arange(50.0)})
    y = np.arange(50.0)
    folds = _folds(y, "regression", 0)
    family = REGRESSORS["ridge"]
    cand = Candidate(0, family, {})
    asked: list = []

    def may_start_fold(mean_so_far, rounds_left):
        asked.append(mean_so_far)
        return True

    cross_validate(cand, Pipeline([("model", _SlowToPredict(0.05))]), X, y, folds,
                   "regression", "r2", None, may_start_fold)
    assert cand.status == "ok"
    assert asked[0] is None and all(m >= 0.05 for m in asked[1:])
    assert cand.fold_s >= 0.05
    assert cand.fit_time_s < cand.fold_s * len(folds)  # the leaderboard's fit time stays fit
