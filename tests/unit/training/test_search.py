"""The search: reports, determinism, deadline and stop logic, failures, tracking (in memory)."""

import dataclasses
import itertools

import pytest

from app.ml.tracking import CHAMPION, InMemoryTracker
from app.ml.training import SearchRequest, TrainingCancelled, TrainingFailed, run_search
from app.ml.training.families import CLASSIFIERS

FAST = ["logistic_regression", "decision_tree"]


def _search(frame, kinds, tracker=None, should_stop=lambda: False, now=None, **request):
    progress = []
    request = {"target": "label", "time_budget_s": 60, "max_candidates": 4, "families": FAST,
               **request}
    extra = {"now": now} if now else {}
    result = run_search(frame, kinds, SearchRequest(**request), on_progress=progress.append,
                        should_stop=should_stop, tracker=tracker, **extra)
    return result, progress


def test_search_reports_the_kept_models(frame, kinds):
    tracker = InMemoryTracker()
    result, progress = _search(frame, kinds, tracker, registered_name="dataset-1-label",
                               tags={"user": "u1", "dataset": "1", "version": "2"})
    assert result.task == "classification" and result.metric == "accuracy"
    assert {row["family"] for row in result.leaderboard} >= set(FAST)
    best = result.best
    assert set(best.test_metrics) == {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc",
                                      "log_loss"}
    assert best.baseline["accuracy"] <= 0.75 and best.verdict
    assert best.charts["confusion_matrix"]["labels"] == ["no", "yes"]
    assert best.charts["roc_curve"][0]["fpr"][0] == 0.0
    assert {i["feature"] for i in best.feature_importance} <= set(result.input_example.columns)
    color = next(f for f in result.features if f["name"] == "color")
    assert color["allowed_values"] == ["blue", "green", "red"]
    assert result.classes == ["no", "yes"]
    assert progress[-1]["fraction"] == 1.0
    assert set(progress[0]) == {"fraction", "candidates_done", "best_score", "elapsed_s",
                                "remaining_s", "message"}
    parent = tracker.runs[result.parent_run_id]
    assert parent["status"] == "FINISHED" and parent["tags"]["dataset"] == "1"
    children = [r for r in tracker.runs.values() if r["parent"] == result.parent_run_id]
    assert len(children) == len(result.candidates) + len(result.models)
    assert tracker.aliases[("dataset-1-label", CHAMPION)] == result.registered_version
    saved = tracker.load_model(best.model_uri)
    assert list(saved.predict(frame.head(5))) == list(best.pipeline.predict(frame.head(5)))


def test_regression_search(frame, kinds):
    result, _ = _search(frame, kinds, target="amount", families=["ridge", "decision_tree"])
    assert result.task == "regression" and result.metric == "r2"
    assert set(result.best.test_metrics) == {"r2", "rmse", "mae"}
    assert len(result.best.charts["predicted_vs_actual"]) == result.n_test


def test_same_seed_same_candidates_and_leaderboard(frame, kinds):
    first, _ = _search(frame, kinds, seed=3, max_candidates=5)
    second, _ = _search(frame, kinds, seed=3, max_candidates=5)
    assert [(c["family"], c["params"], c["cv_score"]) for c in first.candidates] == \
        [(c["family"], c["params"], c["cv_score"]) for c in second.candidates]
    assert [(r["family"], r["cv_score"], r["test_score"]) for r in first.leaderboard] == \
        [(r["family"], r["cv_score"], r["test_score"]) for r in second.leaderboard]


class FakeClock:
    """Each reading moves time forward, so the search meets its deadline without waiting."""

    def __init__(self, step):
        self.t, self.step = 0.0, step

    def __call__(self):
        self.t += self.step
        return self.t


def test_deadline_stops_the_search_and_keeps_the_best(frame, kinds):
    clock = FakeClock(step=0.2)
    result, _ = _search(frame, kinds, now=clock, time_budget_s=5, max_candidates=None)
    assert result.stopped_by_deadline
    assert result.models  # the best so far is kept
    assert result.elapsed_s <= 5 * 1.1 + 5


def test_should_stop_cancels_promptly(frame, kinds):
    calls = itertools.count()
    tracker = InMemoryTracker()
    with pytest.raises(TrainingCancelled):
        _search(frame, kinds, tracker, should_stop=lambda: next(calls) >= 3)
    assert next(calls) <= 6
    assert [r["status"] for r in tracker.runs.values() if r["parent"] is None] == ["KILLED"]


def _boom(**kwargs):
    raise RuntimeError("broken estimator")


def test_a_failing_candidate_is_recorded_and_skipped(frame, kinds, monkeypatch):
    broken = dataclasses.replace(CLASSIFIERS["decision_tree"], make=_boom)
    monkeypatch.setitem(CLASSIFIERS, "decision_tree", broken)
    result, _ = _search(frame, kinds)
    failed = [c for c in result.candidates if c["status"] == "failed"]
    assert failed and "broken estimator" in failed[0]["error"]
    assert result.best_family == "logistic_regression"


def test_all_candidates_failing_fails_the_job(frame, kinds, monkeypatch):
    for name in FAST:
        monkeypatch.setitem(CLASSIFIERS, name, dataclasses.replace(CLASSIFIERS[name], make=_boom))
    with pytest.raises(TrainingFailed) as err:
        _search(frame, kinds)
    assert "every candidate failed" in err.value.message


def test_request_fields_are_bounded(frame, kinds):
    from app.ml.training import TrainingRejected
    with pytest.raises(TrainingRejected) as err:
        _search(frame, kinds, time_budget_s=1, metric="r2", families=["svm"])
    assert set(err.value.errors) == {"time_budget_s", "metric", "models"}


def test_when_nothing_finishes_in_time_a_cheap_rescue_model_is_kept(frame, kinds):
    clock = FakeClock(step=4.0)  # every reading jumps past the search's end
    result, _ = _search(frame, kinds, now=clock, time_budget_s=5, max_candidates=None,
                        families=None)
    assert result.models
    assert result.candidates[-1]["family"] == "decision_tree"


def test_every_default_candidate_succeeds_for_regression(frame, kinds):
    result, _ = _search(frame, kinds, target="amount", families=None, max_candidates=5)
    assert [c["status"] for c in result.candidates] == ["ok"] * 5


def test_kept_models_are_refitted_on_all_rows_after_the_held_out_measurement(frame, kinds):
    result, _ = _search(frame, kinds)
    plain, _ = _search(frame, kinds, refit_full=False)
    assert result.best.refit_full and not plain.best.refit_full
    assert result.best.trained_rows == result.n_train + result.n_test
    assert plain.best.trained_rows <= plain.n_train
    # The held-out figures describe the dev-rows fit, measured before the refit.
    assert result.best.test_metrics == plain.best.test_metrics


def test_refit_on_all_rows_is_skipped_and_said_when_it_would_not_fit(frame, kinds,
                                                                      monkeypatch):
    from app.ml.training import refits
    monkeypatch.setattr(refits, "REFIT_ALL_SAFETY", 1e6)  # every refit on all rows: too slow
    result, _ = _search(frame, kinds)
    assert not result.best.refit_full and result.best.trained_rows <= result.n_train
    assert any("not refitted on all" in w for w in result.warnings)



def test_linear_model_keeps_the_most_regularised_candidate_within_one_standard_error():
    import numpy as np

    from app.ml.training.candidates import Candidate
    from app.ml.training.search import _one_standard_error
    lr = CLASSIFIERS["logistic_regression"]

    def cand(i, c, acc):
        return Candidate(i, lr, {"C": c}, status="ok", cv_metrics={"accuracy": acc},
                         cv_score=acc, oof=np.zeros((4, 2)))

    cands = [cand(0, 1.0, 0.990), cand(1, 20.0, 0.996), cand(2, 0.01, 0.90)]
    best = {"logistic_regression": cands[1]}
    _one_standard_error(cands, best, "accuracy", n_rows=275)  # one SE here is about 0.006
    assert best["logistic_regression"] is cands[0]  # C=1 ties within noise; C=0.01 does not
    assert cands[0].oof is not None and cands[1].oof is None
    best = {"logistic_regression": cands[1]}
    _one_standard_error(cands, best, "log_loss", n_rows=275)  # not a count-of-rows metric
    assert best["logistic_regression"] is cands[1]


def test_boosting_refitted_on_many_more_rows_than_its_folds_picks_its_own_rounds(
        kinds, frame_maker, monkeypatch):
    from app.ml.training import refits, search

    monkeypatch.setattr(search, "MIN_SEARCH_ROWS", 300)  # search on 300 rows, refit on 2,400
    monkeypatch.setattr(search, "ROWS_PER_BUDGET_SECOND", 1)
    big = frame_maker(3_000, seed=5)
    result, _ = _search(big, kinds, families=["hist_gradient_boosting"], max_candidates=1,
                        refit_full=False)
    model = result.models["hist_gradient_boosting"]
    est = model.pipeline[-1]
    assert model.trained_rows == result.n_train > 2 * 300
    assert est.early_stopping is True
    assert est.max_iter % refits.ROUNDS_CAP == 0 and est.max_iter >= 10 * refits.ROUNDS_CAP
    assert est.n_iter_ <= est.max_iter


def test_boosting_refitted_on_about_its_fold_rows_keeps_the_rounds_cv_chose(frame, kinds):
    result, _ = _search(frame, kinds, families=["hist_gradient_boosting"], max_candidates=1,
                        refit_full=False)
    est = result.models["hist_gradient_boosting"].pipeline[-1]
    assert est.early_stopping is False and est.n_iter_ == est.max_iter


@pytest.mark.parametrize("refit_full", [True, False])
def test_importance_leaves_the_time_the_best_models_refit_on_all_rows_needs(
        frame, kinds, monkeypatch, refit_full):
    from app.ml.training import finalize
    # The refit on all rows now looks like it needs ~10,000 s: nothing may eat into that time.
    monkeypatch.setattr(finalize, "refit_all_seconds", lambda *args: 1e4)
    result, _ = _search(frame, kinds, refit_full=refit_full)
    computed = [m.feature_importance for m in result.models.values()]
    if refit_full:
        assert computed and not any(computed)
        assert not result.best.refit_full
    else:
        assert all(computed)


def test_importance_is_skipped_when_its_batch_would_end_after_the_deadline(frame, kinds):
    import time

    from app.ml.training.report import permutation_importance
    result, _ = _search(frame, kinds, max_candidates=1, families=["decision_tree"])
    model = result.best.pipeline
    X, y = frame.drop(columns=["label"]).head(60), frame["label"].head(60).to_numpy()
    args = (model, X, y, "classification", "accuracy", result.best.pipeline.classes_, 0)
    soon = time.monotonic() + 30.0
    assert permutation_importance(*args, deadline=soon, seconds_per_row=1e-6)
    # 60 rows x (7 columns x 3 shuffles + 1) at 0.1 s a row would take ~130 s: not started.
    assert permutation_importance(*args, deadline=soon, seconds_per_row=0.1) == []


def test_a_target_that_is_never_negative_also_tries_boosting_with_the_poisson_loss(frame, kinds):
    result, _ = _search(frame, kinds, target="amount", max_candidates=5,
                        families=["hist_gradient_boosting", "ridge", "random_forest"])
    tried = [(c["family"], c["params"].get("loss"), c["params"].get("target"), c["status"])
             for c in result.candidates]
    assert tried == [("hist_gradient_boosting", "squared_error", None, "ok"),
                     ("ridge", None, "identity", "ok"), ("ridge", None, "log", "ok"),
                     ("hist_gradient_boosting", "poisson", None, "ok"),
                     ("random_forest", None, None, "ok")]


def test_ridges_default_is_followed_by_its_yeo_johnson_variant(frame, kinds):
    result, _ = _search(frame, kinds, target="amount", max_candidates=2, families=["ridge"])
    assert [c["params"] for c in result.candidates] == [
        {"alpha": 1.0, "numeric": "standard", "target": "identity"},
        {"alpha": 1.0, "numeric": "power", "target": "log"}]
    assert all(c["status"] == "ok" for c in result.candidates)


def test_a_target_with_negative_values_never_gets_the_poisson_loss_or_a_log_target(frame,
                                                                                   kinds):
    signed = frame.assign(amount=frame["amount"] - frame["amount"].median())
    result, _ = _search(signed, kinds, target="amount", max_candidates=10,
                        families=["hist_gradient_boosting"])
    assert len(result.candidates) == 10
    assert {c["params"]["loss"] for c in result.candidates} == {"squared_error"}
    assert all(c["status"] == "ok" for c in result.candidates)
    result, _ = _search(signed, kinds, target="amount", max_candidates=30, families=["ridge"])
    assert {c["params"]["target"] for c in result.candidates} == {"identity"}
    assert {c["params"]["numeric"] for c in result.candidates} == {"standard", "power"}


def test_a_negative_value_among_the_held_out_rows_rules_out_poisson_and_log(frame, kinds):
    """The kept models are refitted on all rows: the check covers the held-out rows too."""
    with_negative = frame.copy()
    with_negative.loc[:, "amount"] = with_negative["amount"].abs() + 1
    with_negative.loc[[0], "amount"] = -5.0
    for seed in range(8):  # whichever side of the split the row falls on
        result, _ = _search(with_negative, kinds, target="amount", max_candidates=2,
                            families=["ridge"], seed=seed)
        assert [c["params"]["target"] for c in result.candidates] == ["identity", "identity"]


def test_forests_train_on_both_cores_from_a_thousand_rows_and_predict_on_one(kinds, frame_maker):
    from app.ml.training.candidates import make_pipeline
    from app.ml.training.families import REGRESSORS

    forest = REGRESSORS["random_forest"]
    assert make_pipeline(forest, forest.defaults, 0, {"x": "float"}, {}, "regression",
                         n_rows=1_500)[-1].n_jobs == 2
    assert make_pipeline(forest, forest.defaults, 0, {"x": "float"}, {}, "regression",
                         n_rows=600)[-1].n_jobs == 1
    result, _ = _search(frame_maker(1_500, seed=3), kinds, target="amount", max_candidates=2,
                        families=["random_forest", "extra_trees"])
    assert {"random_forest", "extra_trees"} <= set(result.models)
    for model in result.models.values():
        for pipe in getattr(model.pipeline, "members", None) or [model.pipeline]:
            assert pipe[-1].n_jobs == 1


def _always_blend(monkeypatch) -> list:
    """Ensemble selection that weighs every model equally and always wins; records the
    size of each library it was given."""
    from app.ml.training import finalize

    library = []

    def equal_weights(oofs, y, task, metric, classes=None, seed=0):
        library.append(len(oofs))
        return [1 / len(oofs)] * len(oofs), 1.0

    monkeypatch.setattr(finalize, "select_weights", equal_weights)
    return library


def test_boostings_runners_up_join_the_ensembles_library_when_boosting_leads(
        frame, kinds, monkeypatch):
    from app.ml.training.search import RUNNERS_UP

    library = _always_blend(monkeypatch)
    result, _ = _search(frame, kinds, target="amount", max_candidates=12,
                        families=["hist_gradient_boosting", "decision_tree"])
    boosting = [c for c in result.candidates if c["family"] == "hist_gradient_boosting"]
    assert len(boosting) > RUNNERS_UP + 1
    assert result.leaderboard[1]["family"] == "hist_gradient_boosting"  # after the ensemble
    ens = result.models["ensemble"]
    runners = [n for n in ens.params if n.startswith("hist_gradient_boosting-")]
    assert len(runners) == RUNNERS_UP and library == [2 + RUNNERS_UP]
    assert {"hist_gradient_boosting", "decision_tree"} <= set(ens.params)
    assert set(result.models) == {"hist_gradient_boosting", "decision_tree", "ensemble"}
    assert "histogram gradient boosting (4 settings)" in ens.algorithm
    assert ens.refit_full and ens.trained_rows == result.n_train + result.n_test
    assert len(ens.pipeline.members) == 2 + RUNNERS_UP
    assert len(ens.pipeline.predict(frame.head(3))) == 3


def test_boostings_runners_up_stay_out_when_another_family_leads(frame, kinds, monkeypatch):
    library = _always_blend(monkeypatch)
    result, _ = _search(frame, kinds, target="amount", max_candidates=12,
                        families=["hist_gradient_boosting", "ridge"])
    assert result.leaderboard[1]["family"] == "ridge"  # a linear target
    assert library == [2] and set(result.models["ensemble"].params) == {
        "hist_gradient_boosting", "ridge"}


def test_a_tracked_refit_leaves_time_for_its_own_save():
    """A forest's save grows with its rows: a tracked refit picks fewer rows to pay for it."""
    from types import SimpleNamespace

    from app.ml.training.refits import refit_rows

    # 1 s per fold of 1,000 rows, x1.5 for safety
    cand = SimpleNamespace(fit_time_s=3.0, family=SimpleNamespace(fit_power=1.0))
    assert refit_rows(cand, 100_000, 1_000, 3, seconds=15.0) == 10_000
    assert refit_rows(cand, 100_000, 1_000, 3, seconds=15.0, save_per_row=1e-3) == 6_000

