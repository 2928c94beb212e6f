"""The final phase's time plan: refits on all rows leave the time to save what follows."""

import numpy as np
import pytest

from app.ml.training import finalize
from app.ml.training.families import ENSEMBLE
from app.ml.training.finalize import _refit_full, _simplest_first
from app.ml.training.refits import REFIT_ALL_SAFETY, SAVE_SAFETY
from app.ml.training.request import KeptModel
from app.ml.training.transformers import WeightedEnsemble
from app.ml.training.workers import fold_executor


class _Clock:
    def __init__(self, left: float):
        self.deadline, self.budget_s = 100.0, 0.0
        self._now = self.deadline - left

    def now(self) -> float:
        return self._now


@pytest.fixture(autouse=True)
def no_slack(monkeypatch):
    """The time plans below end at the deadline; the slack has its own test."""
    monkeypatch.setattr(finalize, "SLACK_S", 0.0)


class _Progress:
    def update(self, **_):
        pass


def _kept(models, family, y, rows=None):
    pipe = models.fit("regression", y, family=family, style="linear" if family == "ridge"
                      else "tree", kinds=models.without_town)
    return KeptModel(family, family, pipe, {}, 0.0, {}, fit_time_s=1.0,
                     trained_rows=rows or len(y))


def _run(models, left: float, tracked: bool):
    y = np.random.default_rng(0).normal(size=120)
    X = models.frame(120, 0, models.without_town)
    order = [_kept(models, "ridge", y), _kept(models, "decision_tree", y)]
    kept = {m.family: m for m in order}
    data = (X.iloc[:100], y[:100], X.iloc[100:], y[100:])
    _refit_full(order, kept, data, _Clock(left), 1.0, lambda: False, _Progress(),
                tracked=tracked)
    return order


def test_a_refit_on_all_rows_leaves_the_time_to_save_the_models_after_the_best(models):
    # the best's refit on 120 rows (it was fitted on 120): 1.2 x 1 s + 0.05; 1 s reserve
    refit = REFIT_ALL_SAFETY * 1.0 + 0.05
    enough_untracked = 1.0 + refit + 0.3
    best, _ = _run(models, enough_untracked, tracked=False)
    assert best.refit_full
    best, _ = _run(models, enough_untracked, tracked=True)  # a tree's save is >= 0.8 s x 1.5
    assert not best.refit_full and "did not fit in the time left" in best.refit_note
    best, _ = _run(models, enough_untracked + SAVE_SAFETY * 3, tracked=True)
    assert best.refit_full


def test_only_the_best_models_refit_may_run_into_the_slack(models, monkeypatch):
    refit = REFIT_ALL_SAFETY * 1.0 + 0.05  # each of the two, as above
    left = 1.0 + refit - 0.5  # the 1 s reserve, then half a second short of one refit
    best, second = _run(models, left, tracked=False)
    assert not best.refit_full and not second.refit_full
    monkeypatch.setattr(finalize, "SLACK_S", 1.0)  # a budget of 0 s: 1 s of slack
    best, second = _run(models, left, tracked=False)
    assert best.refit_full and best.trained_rows == 120
    assert not second.refit_full and "did not fit in the time left" in second.refit_note


def _ensemble_run(models, left: float, executor, weights=(0.5, 0.5), ahead=False):
    """An ensemble of two 1-second members fitted on 100 rows: its refit on all 120 rows
    needs twice one member's time one after another, once on two workers. With `ahead`,
    its ridge member alone comes first and its tree takes 5 s."""
    y = np.random.default_rng(0).normal(size=120)
    X = models.frame(120, 0, models.without_town)
    kept = {f: _kept(models, f, y, rows=100) for f in ("ridge", "decision_tree")}
    ens = KeptModel(ENSEMBLE, "ensemble", WeightedEnsemble(
        [kept["ridge"].pipeline, kept["decision_tree"].pipeline], list(weights), "regression"),
        dict(zip(("ridge", "decision_tree"), weights, strict=True)), 0.0, {}, 2.0,
        trained_rows=100)
    ens.pipeline.fit(None)
    data = (X.iloc[:100], y[:100], X.iloc[100:], y[100:])
    if ahead:
        kept["decision_tree"].fit_time_s = 5.0
    order = [kept["ridge"], ens] if ahead else [ens]
    _refit_full(order, kept, data, _Clock(left), 1.0, lambda: False, _Progress(),
                executor=executor)
    return ens, kept


@pytest.mark.parametrize("workers", [1, 2])
def test_an_ensemble_is_refitted_on_all_rows_when_its_members_fit_at_once(models, workers):
    one = REFIT_ALL_SAFETY * 1.0 * 120 / 100 + 0.05
    left = 1.0 + one + 0.5 * one  # the 1 s reserve, then 1.5 members' time
    ens, _ = _ensemble_run(models, left, fold_executor(2) if workers == 2 else None)
    assert ens.refit_full == (workers == 2)  # one after another, two members do not fit
    if workers == 2:
        assert ens.trained_rows == 120
        assert all(m[-1].n_features_in_ > 0 for m in ens.pipeline.members)


@pytest.mark.parametrize("heavier", ["ridge", "decision_tree"])
def test_an_ensemble_whose_refit_does_not_fit_refits_its_heaviest_member(models, heavier):
    one = REFIT_ALL_SAFETY * 1.0 * 120 / 100 + 0.05
    weights = (0.7, 0.3) if heavier == "ridge" else (0.3, 0.7)
    ens, dev = _ensemble_run(models, 1.0 + 1.5 * one, None, weights)  # one member's time
    names = ("ridge", "decision_tree")
    kept_dev_fit = {n for n, pipe in zip(names, ens.pipeline.members, strict=True)
                    if pipe is dev[n].pipeline}
    assert kept_dev_fit == set(names) - {heavier}
    assert not ens.refit_full and ens.trained_rows == 120
    assert "1 of 2 members (70% of the weight)" in ens.refit_note
    assert "the others stay fitted on fewer rows" in finalize._refit_warning(ens, 120)
    tight, _ = _ensemble_run(models, 1.0 + 0.5 * one, None, weights)  # not even one member
    assert not tight.refit_full and tight.trained_rows == 100
    assert tight.refit_note.startswith("not refitted on all 120 rows")
    assert "it stays fitted on the 100 rows" in finalize._refit_warning(tight, 120)


def test_an_ensemble_takes_a_member_refitted_before_it_even_when_the_rest_does_not_fit(
        models):
    one = REFIT_ALL_SAFETY * 1.0 * 120 / 100 + 0.05
    ens, kept = _ensemble_run(models, 1.0 + 1.5 * one, None, ahead=True)
    assert kept["ridge"].refit_full  # refitted first, on its own
    assert ens.pipeline.members[0] is kept["ridge"].pipeline
    assert ens.pipeline.members[1] is kept["decision_tree"].pipeline  # its dev-rows fit
    assert not ens.refit_full and "1 of 2 members (50% of the weight)" in ens.refit_note


def test_an_ensemble_of_members_all_refitted_before_it_is_refitted_in_full(models,
                                                                          monkeypatch):
    """Its members were refitted on all rows as single models first. What did not fit is
    the ensemble's own larger save, planned for when tracked: it still takes the fresh
    fits (they cost nothing), and then it is on all rows, not "2 of 2 members" in part."""
    def save_seconds(pipe, rows_scale=1.0):  # only a bigger ensemble is costly to save
        return 100.0 if isinstance(pipe, WeightedEnsemble) and rows_scale > 1 else 0.0

    monkeypatch.setattr(finalize, "save_seconds", save_seconds)
    y = np.random.default_rng(0).normal(size=120)
    X = models.frame(120, 0, models.without_town)
    kept = {f: _kept(models, f, y, rows=100) for f in ("ridge", "decision_tree")}
    ens = KeptModel(ENSEMBLE, "ensemble", WeightedEnsemble(
        [kept["ridge"].pipeline, kept["decision_tree"].pipeline], [0.5, 0.5], "regression"),
        {"ridge": 0.5, "decision_tree": 0.5}, 0.0, {}, fit_time_s=2.0, trained_rows=100)
    ens.pipeline.fit(None)
    data = (X.iloc[:100], y[:100], X.iloc[100:], y[100:])
    _refit_full([kept["ridge"], kept["decision_tree"], ens], kept, data, _Clock(10.0), 1.0,
                lambda: False, _Progress(), tracked=True)
    assert kept["ridge"].refit_full and kept["decision_tree"].refit_full
    assert ens.pipeline.members == [kept["ridge"].pipeline, kept["decision_tree"].pipeline]
    assert ens.refit_full and ens.trained_rows == 120 and ens.refit_note == ""


def test_a_stopped_job_says_so_instead_of_blaming_the_time(models):
    y = np.random.default_rng(0).normal(size=120)
    X = models.frame(120, 0, models.without_town)
    best = _kept(models, "ridge", y)
    data = (X.iloc[:100], y[:100], X.iloc[100:], y[100:])
    _refit_full([best], {"ridge": best}, data, _Clock(1e3), 1.0, lambda: True, _Progress())
    assert not best.refit_full and best.refit_note.endswith("the job was stopped")


def _scored(family, cv):
    return KeptModel(family, family.replace("_", " ").capitalize(), None, {}, cv, {}, 1.0)


def test_logistic_regression_within_one_standard_error_of_the_leader_is_chosen():
    # oj, split 0: boosting led by 5 rows of 641 (0.8378 vs 0.8300; one SE is 0.0147).
    order = [_scored("hist_gradient_boosting", 0.8378), _scored("random_forest", 0.8222),
             _scored("logistic_regression", 0.8300)]
    chosen, note = _simplest_first(order, "accuracy", 641)
    assert [m.family for m in chosen] == ["logistic_regression", "hist_gradient_boosting",
                                          "random_forest"]
    assert "within one standard error" in note and "641" in note


def test_the_leader_stays_when_the_linear_model_is_clearly_behind_or_the_metric_is_not_a_share():
    order = [_scored("extra_trees", 0.9814), _scored("logistic_regression", 0.9684)]
    assert _simplest_first(order, "accuracy", 1077) == (order, None)  # digits: 3.6 SE behind
    close = [_scored("extra_trees", 0.831), _scored("logistic_regression", 0.830)]
    assert _simplest_first(close, "log_loss", 641) == (close, None)
    lead = [_scored("logistic_regression", 0.99), _scored("extra_trees", 0.99)]
    assert _simplest_first(lead, "accuracy", 206) == (lead, None)
