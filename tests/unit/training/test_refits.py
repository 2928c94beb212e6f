"""Refits after the search run several at once in the fold workers, and are planned so."""

import numpy as np
import pytest

from app.ml.training.refits import (
    FitJob,
    fits_seconds,
    makespan,
    pooled,
    run_fits,
)
from app.ml.training.workers import fold_executor

ROWS = 120


@pytest.fixture(scope="module")
def executor():
    return fold_executor(2)


def _pipelines(models):
    y = np.random.default_rng(0).normal(size=ROWS)
    kinds = models.without_town
    return y, {f: models.fit("regression", y, family=f, kinds=kinds,
                             style={"ridge": "linear", "hist_gradient_boosting": "hgb"}.get(
                                 f, "tree"))
               for f in ("ridge", "decision_tree", "hist_gradient_boosting", "random_forest")}


def test_makespan_puts_the_longest_job_first_on_the_least_loaded_worker():
    assert makespan([4.0, 3.0, 2.0, 1.0], 2) == 5.0  # 4+1 | 3+2
    assert makespan([4.0, 3.0, 2.0, 1.0], 1) == 10.0
    assert makespan([9.0, 1.0, 1.0], 2) == 9.0  # one long job cannot be split


def test_only_single_threaded_fits_are_pooled_and_only_two_or_more(models):
    _, pipes = _pipelines(models)
    pipes["random_forest"].set_params(model__n_jobs=2)
    order = ["ridge", "random_forest", "decision_tree"]
    assert pooled([pipes[f] for f in order], 2) == [True, False, True]
    assert pooled([pipes[f] for f in order], 1) == [False, False, False]
    assert pooled([pipes["ridge"], pipes["random_forest"]], 2) == [False, False]
    # the forest fits here while the workers fit the others: counted as if after them
    assert fits_seconds([3.0, 5.0, 2.0], [pipes[f] for f in order], 2) == 3.0 + 5.0


def test_fits_in_the_workers_give_the_same_models_as_fits_here(models, executor):
    y, pipes = _pipelines(models)
    pipes["random_forest"].set_params(model__n_jobs=2)
    X = models.frame(ROWS, 0, models.without_town)
    jobs = [FitJob(f, p, 100, 1.0) for f, p in pipes.items()]
    there = run_fits(jobs, X, y, executor, lambda: False)
    here = run_fits(jobs, X, y, None, lambda: False)
    assert list(there) == list(here) == list(pipes)
    for f in pipes:
        np.testing.assert_allclose(there[f][0].predict(X), here[f][0].predict(X))
        assert there[f][0][-1].n_features_in_ > 0 and there[f][1] >= 0
    assert there["random_forest"][0][-1].n_jobs == 2  # fitted here, on its own threads
    # fitted on the first 100 rows: the predictions differ from a fit on all 120
    full = run_fits([FitJob("ridge", pipes["ridge"], ROWS, 1.0)], X, y, None, lambda: False)
    assert not np.allclose(full["ridge"][0].predict(X), here["ridge"][0].predict(X))


def test_nothing_starts_after_a_stop_request(models):
    class Refusing:  # an executor that must not be given work
        _max_workers = 2

        def submit(self, *args, **kwargs):
            raise AssertionError("a fit was started after the stop request")

    y, pipes = _pipelines(models)
    X = models.frame(ROWS, 0, models.without_town)
    jobs = [FitJob(f, pipes[f], ROWS, 1.0) for f in ("ridge", "decision_tree")]
    assert run_fits(jobs, X, y, Refusing(), lambda: True) is None
    assert run_fits(jobs, X, y, None, lambda: True) is None


def test_a_stop_request_ends_the_wait_for_the_workers(models, executor):
    """Two boosting fits of a few seconds each: the stop comes at the first poll."""
    n = 2_000
    y = np.random.default_rng(1).normal(size=n)
    X = models.frame(n, 0, models.without_town)
    slow = models.fit("regression", y[:ROWS], kinds=models.without_town)
    slow.set_params(model__max_iter=1_500, model__min_samples_leaf=1)
    asked = []

    def should_stop():
        asked.append(1)
        return len(asked) > 1  # not before the fits start; yes at the first poll

    jobs = [FitJob(name, slow, n, 5.0) for name in ("a", "b")]
    assert run_fits(jobs, X, y, executor, should_stop) is None
    assert len(asked) == 2
