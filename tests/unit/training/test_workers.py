"""Folds cross-validated in worker processes: the same results as in this process."""

import multiprocessing
import os
import signal
import time

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from app.ml.training.candidates import Candidate, cross_validate, make_pipeline
from app.ml.training.families import CLASSIFIERS
from app.ml.training.preprocessing import category_cardinality
from app.ml.training.workers import fold_executor

FEATURES = {"x": "float", "count": "integer", "color": "categorical"}


def _setup(frame, name):
    family = CLASSIFIERS[name]
    X, y = frame[list(FEATURES)], frame["label"].to_numpy(dtype=object)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    pipe = make_pipeline(family, family.defaults, 0, FEATURES,
                         category_cardinality(X, FEATURES), "classification", len(X))
    return family, pipe, X, y, folds


@pytest.mark.parametrize("name", ["hist_gradient_boosting", "random_forest"])
def test_worker_folds_give_the_same_candidate(frame, name):
    family, pipe, X, y, folds = _setup(frame, name)
    classes = np.unique(y)
    results = []
    for executor in (None, fold_executor(2)):
        cand = Candidate(0, family, dict(family.defaults))
        cross_validate(cand, pipe, X, y, folds, "classification", "accuracy", classes,
                       lambda *_: True, executor=executor)
        results.append(cand)
    here, there = results
    assert there.status == here.status == "ok"
    np.testing.assert_allclose(there.oof, here.oof)
    assert there.cv_score == here.cv_score
    assert sorted(there.iterations) == sorted(here.iterations)
    assert there.fit_time_s > 0 and there.save_s == pytest.approx(here.save_s)


def test_the_deadline_check_counts_rounds_of_parallel_folds(frame):
    family, pipe, X, y, folds = _setup(frame, "decision_tree")
    asked = {}
    for workers in (1, 2):
        calls = []
        cand = Candidate(0, family, dict(family.defaults))
        cross_validate(cand, pipe, X, y, folds, "classification", "accuracy", np.unique(y),
                       lambda mean, rounds, calls=calls: calls.append(rounds) or True,
                       executor=fold_executor(workers))
        asked[workers] = calls
    assert asked == {1: [5, 4, 3, 2, 1], 2: [3, 2, 2, 1, 1]}


def test_a_refused_fold_skips_the_candidate(frame):
    family, pipe, X, y, folds = _setup(frame, "decision_tree")
    cand = Candidate(0, family, dict(family.defaults))
    started = []
    cross_validate(cand, pipe, X, y, folds, "classification", "accuracy", np.unique(y),
                   lambda mean, rounds: len(started) < 3 and not started.append(1),
                   executor=fold_executor(2))
    assert cand.status == "skipped" and cand.oof is None and len(started) == 3


def test_a_failing_fold_in_a_worker_raises_here(frame):
    family, pipe, X, y, folds = _setup(frame, "decision_tree")
    pipe.set_params(model__max_depth=-3)  # rejected by scikit-learn at fit time
    with pytest.raises(ValueError, match="max_depth"):
        cross_validate(Candidate(0, family, {}), pipe, X, y, folds, "classification",
                       "accuracy", np.unique(y), lambda *_: True, executor=fold_executor(2))


def _executor_in_daemon(queue):
    queue.put(fold_executor(2) is None)


def test_no_workers_from_a_daemon_process_or_for_one_worker():
    assert fold_executor(1) is None
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_executor_in_daemon, args=(queue,), daemon=True)
    child.start()
    assert queue.get(timeout=60) is True
    child.join(10)


def _busy_parent(queue):
    executor = fold_executor(2)
    executor.submit(time.sleep, 60)
    queue.put(sorted(executor._processes))
    time.sleep(60)  # killed here


def test_workers_die_with_a_killed_parent():
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    parent = ctx.Process(target=_busy_parent, args=(queue,))
    parent.start()
    pids = queue.get(timeout=60)
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    os.kill(parent.pid, signal.SIGKILL)
    parent.join(10)
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_one_thread_touches_only_estimators_that_use_threads(frame):
    from app.ml.training.candidates import single_threaded

    _, forest, *_ = _setup(frame, "random_forest")
    _, logistic, *_ = _setup(frame, "logistic_regression")
    single_threaded(forest)
    single_threaded(logistic)  # setting n_jobs on it warns in scikit-learn >= 1.8
    assert forest[-1].n_jobs == 1 and logistic[-1].n_jobs is None
