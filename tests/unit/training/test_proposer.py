"""Which family the search tries next: by rank, and little for a family far behind."""

from collections import Counter

import pytest

from app.ml.training.candidates import FAR_BEHIND, RANK_WEIGHTS, Candidate, Proposer
from app.ml.training.families import REGRESSORS

NAMES = ["hist_gradient_boosting", "random_forest", "extra_trees"]


def _scores(*values: float) -> dict[str, float]:
    return dict(zip(NAMES, values, strict=True))


def _best(scores: dict[str, float]) -> dict[str, Candidate]:
    return {name: Candidate(i, REGRESSORS[name], dict(REGRESSORS[name].defaults),
                            status="ok", cv_score=s)
            for i, (name, s) in enumerate(scores.items())}


def _proposer(metric="r2") -> Proposer:
    proposer = Proposer([REGRESSORS[n] for n in NAMES], seed=0, n_rows=1000,
                        imbalanced=False, default_class_weight=None, metric=metric)
    proposer.queue.clear()  # past the defaults
    return proposer


def test_close_families_are_weighted_by_rank():
    # errors 0.060, 0.070, 0.074: all within FAR_BEHIND x the leader's
    weights = _proposer()._weights(_best(_scores(0.940, 0.930, 0.926)), set())
    assert list(weights) == list(RANK_WEIGHTS[:3])


def test_a_family_far_behind_the_leader_gets_the_least_whatever_its_rank():
    # bikeshare: boosting's error 0.0595, the forests' 0.085 and 0.089 (1.4-1.5x)
    weights = _proposer()._weights(_best(_scores(0.9405, 0.915, 0.911)), set())
    assert list(weights) == [RANK_WEIGHTS[0], RANK_WEIGHTS[-1], RANK_WEIGHTS[-1]]
    picked = Counter()
    proposer = _proposer()
    best = _best(_scores(0.9405, 0.915, 0.911))
    for _ in range(300):
        family, _params = proposer.next(best, set())
        picked[family.name] += 1
    assert picked["hist_gradient_boosting"] > 0.75 * 300  # 5 / (5 + 0.4 + 0.4) = 86 %


@pytest.mark.parametrize("rmse, weight", [(12.0, RANK_WEIGHTS[1]),
                                          (10.0 * FAR_BEHIND + 0.1, RANK_WEIGHTS[-1])])
def test_losses_compare_as_themselves(rmse, weight):
    # RMSE ranks as a negated score; its error is the RMSE itself, not 1 - score
    scores = {"hist_gradient_boosting": -10.0, "random_forest": -rmse}
    proposer = _proposer(metric="rmse")
    weights = proposer._weights(_best(scores), set())
    assert list(weights) == [RANK_WEIGHTS[0], weight, 0.0]


@pytest.mark.parametrize("metric, weighted", [("accuracy", False), ("log_loss", False),
                                              ("balanced_accuracy", True), ("f1_macro", True),
                                              ("roc_auc", True)])
def test_balanced_class_weights_are_searched_only_for_metrics_that_weigh_classes_equally(
        metric, weighted):
    from app.ml.training.families import CLASSIFIERS
    family = CLASSIFIERS["hist_gradient_boosting"]
    proposer = Proposer([family], seed=0, n_rows=1000, imbalanced=True,
                        default_class_weight=None, metric=metric)
    proposer.queue.clear()
    best = {family.name: Candidate(0, family, dict(family.defaults), status="ok",
                                   cv_score=0.8)}
    seen = {proposer.next(best, set())[1].get("class_weight") for _ in range(40)}
    assert seen == ({None, "balanced"} if weighted else {None})
