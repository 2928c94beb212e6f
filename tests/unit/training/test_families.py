"""Each family fits and predicts on small data; only allow-listed options reach estimators."""

import numpy as np
import pandas as pd
import pytest

from app.ml.training.candidates import fit_limited, make_pipeline
from app.ml.training.families import CLASSIFIERS, REGRESSORS
from app.ml.training.preprocessing import category_cardinality
from app.ml.training.transformers import LogTarget

FEATURES = {"x": "float", "count": "integer", "color": "categorical"}


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_classifier_family(name, frame):
    family = CLASSIFIERS[name]
    X, y = frame[list(FEATURES)], frame["label"].to_numpy(dtype=object)
    rng = np.random.default_rng(0)
    for params in (family.defaults, family.sample(rng)):
        pipe = make_pipeline(family, params, 0, FEATURES, category_cardinality(X, FEATURES),
                             "classification")
        fit_limited(pipe, X, y)
        assert (pipe.predict(X) == y).mean() > 0.6
        assert list(pipe.classes_) == ["no", "yes"]


@pytest.mark.parametrize("name", list(REGRESSORS))
def test_regressor_family(name, frame):
    family = REGRESSORS[name]
    X, y = frame[list(FEATURES)], frame["amount"].to_numpy()
    pipe = make_pipeline(family, family.defaults, 0, FEATURES,
                         category_cardinality(X, FEATURES), "regression")
    fit_limited(pipe, X, y)
    assert np.corrcoef(pipe.predict(X), y)[0, 1] > 0.5


def test_options_outside_the_allow_list_are_refused():
    with pytest.raises(ValueError, match="not allowed"):
        CLASSIFIERS["random_forest"].build({"n_jobs": -1, "warm_start": True}, 0)


def test_ensemble_selection_breaks_accuracy_ties_by_log_loss():
    import numpy as np

    from app.ml.training.ensemble import select_weights
    y = np.array(["a", "b", "a", "b"], dtype=object)
    classes = np.array(["a", "b"], dtype=object)
    sure = np.array([[0.9, 0.1], [0.1, 0.9], [0.9, 0.1], [0.9, 0.1]])  # 3 of 4, one badly wrong
    mild = np.array([[0.6, 0.4], [0.4, 0.6], [0.6, 0.4], [0.55, 0.45]])  # 3 of 4, mildly wrong
    weights, score = select_weights([sure, mild], y, "classification", "accuracy", classes)
    assert weights[1] > 0.5 and score == 0.75  # same accuracy: the lower log loss is chosen


def test_one_lucky_row_does_not_decide_a_coarse_ensemble():
    """Bagged selection: a model that wins the out-of-fold accuracy by a single row, with
    barely confident answers, does not take all the weight from a sure one."""
    import numpy as np

    from app.ml.training.ensemble import select_weights
    n = 40
    y = np.array(["a", "b"] * (n // 2), dtype=object)
    classes = np.array(["a", "b"], dtype=object)
    truth = (y == "b").astype(float)
    barely = np.column_stack([1 - (0.49 + 0.02 * truth), 0.49 + 0.02 * truth])  # right on all
    sure = np.column_stack([1 - (0.01 + 0.98 * truth), 0.01 + 0.98 * truth])
    sure[0] = sure[0][::-1]  # ...wrong on one row
    weights, _ = select_weights([barely, sure], y, "classification", "accuracy", classes, seed=3)
    assert weights[1] > 0.2 and abs(sum(weights) - 1) < 1e-9
    assert select_weights([barely, sure], y, "classification", "accuracy", classes, seed=3)[0] == weights


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy", "f1_macro"])
def test_the_coarse_scorer_agrees_with_the_reported_metrics(metric):
    import numpy as np

    from app.ml.training.ensemble import TIE_BREAK, _coarse_scorer
    from app.ml.training.metrics import classification_metrics
    rng = np.random.default_rng(0)
    classes = np.array(["x", "y", "z"], dtype=object)
    codes = rng.integers(0, 3, 200)
    codes[:5] = 0  # one class the model never predicts below
    proba = rng.dirichlet([1, 1, 0.2], 200)
    expected = classification_metrics(classes[codes], proba, classes)
    got = _coarse_scorer(codes, 3, metric)(proba)
    assert got == pytest.approx(expected[metric] - TIE_BREAK * expected["log_loss"], abs=1e-9)


def _members(oofs: dict, scores: dict):
    from types import SimpleNamespace

    pool = {n: SimpleNamespace(pipeline=SimpleNamespace(classes_=None), algorithm=n, fit_time_s=1.0,
                               trained_rows=10, cv_score=scores[n]) for n in oofs}
    return pool, oofs


@pytest.mark.parametrize(("second_wrong", "kept"), [(slice(1, 11), False), (slice(10, 20), True)])
def test_a_blend_must_beat_the_best_model_by_more_than_chance_on_accuracy(second_wrong, kept):
    """Two models each right on 90 of 100 rows. Wrong on nine of the same rows, their blend is
    right on 91: one row more, less than two standard errors of the paired difference (~2
    rows), and it is not kept. Wrong on different rows, the blend is right on all 100, and
    it is kept."""
    import numpy as np

    from app.ml.training.finalize import _ensemble
    from app.ml.training.metrics import classification_metrics, score
    classes = np.array(["a", "b"], dtype=object)
    y = np.array(["a", "b"] * 50, dtype=object)
    right = np.where(y[:, None] == classes, 0.8, 0.2)
    first, second = right.copy(), right.copy()
    first[:10] = first[:10, ::-1]  # wrong on rows 0-9 (0.8 on the wrong class)
    second[second_wrong] = np.where(y[second_wrong, None] == classes, 0.35, 0.65)  # less sure
    oofs = {"first": first, "second": second}
    scores = {n: score(classification_metrics(y, o, classes), "accuracy") for n, o in oofs.items()}
    assert scores == {"first": 0.9, "second": 0.9}
    ens = _ensemble(*_members(oofs, scores), y, "classification", "accuracy", classes)
    assert (ens is not None) is kept


def test_on_many_rows_a_blend_that_wins_the_rows_its_leader_misses_is_kept():
    """2,000 rows, the leader right on 1,600. The blend is right on 10 more rows and wrong on
    none the leader gets right: under one standard error of the leader's accuracy (~18
    rows), but six of the paired difference, which is what chance would have to explain."""
    import numpy as np

    from app.ml.training.finalize import _ensemble
    from app.ml.training.metrics import classification_metrics, score, share_standard_error
    classes = np.array(["a", "b"], dtype=object)
    y = np.array(["a", "b"] * 1000, dtype=object)
    truth = y[:, None] == classes

    def sure(p_true):
        return np.where(truth, p_true[:, None], 1 - p_true[:, None])

    leader_p, other_p = np.full(2000, 0.8), np.full(2000, 0.8)
    leader_p[:400] = 0.4  # the leader is wrong on rows 0-399, not sure of it
    other_p[10:400] = 0.4  # the other is wrong there too, but right on rows 0-9 ...
    other_p[:10] = 1.0
    other_p[400:420] = 0.45  # ... and wrong on 20 rows the leader gets right
    oofs = {"leader": sure(leader_p), "other": sure(other_p)}
    scores = {n: score(classification_metrics(y, o, classes), "accuracy") for n, o in oofs.items()}
    assert scores == {"leader": 0.8, "other": 0.795}
    ens = _ensemble(*_members(oofs, scores), y, "classification", "accuracy", classes)
    assert ens is not None and set(ens.params) == {"leader", "other"}
    assert ens.cv_score == pytest.approx(0.805)
    assert ens.cv_score - 0.8 < share_standard_error(0.8, 2000)  # refused by that rule


@pytest.mark.parametrize("metric", ["r2", "rmse", "mae"])
@pytest.mark.parametrize(("cancelled", "kept"), [(2, False), (8, True)])
def test_a_regression_blend_must_beat_its_leader_by_more_than_chance(metric, cancelled, kept):
    """Two models off by exactly 1 on each of 200 rows, equally good. Where their errors
    have opposite signs their blend is exact. On 2 such rows it wins by about 1.4 standard
    errors of the paired difference: chance would do that, and the leader is kept alone.
    On 8 rows it wins by about 2.9, and the blend is kept."""
    import numpy as np

    from app.ml.training.finalize import _ensemble
    from app.ml.training.metrics import regression_metrics, score
    rng = np.random.default_rng(0)
    y = rng.normal(10, 3, 200)
    off = np.where(np.arange(200) % 2 == 0, 1.0, -1.0)
    other_off = off.copy()
    other_off[:cancelled] *= -1
    oofs = {"leader": y + off, "other": y + other_off}
    scores = {n: score(regression_metrics(y, o), metric) for n, o in oofs.items()}
    assert scores["leader"] == pytest.approx(scores["other"])
    ens = _ensemble(*_members(oofs, scores), y, "regression", metric, None)
    assert (ens is not None) is kept
    if kept:
        assert ens.params == {"leader": 0.5, "other": 0.5}


def test_a_member_picked_in_a_bag_or_two_is_dropped_from_a_coarse_ensemble():
    """Bagged selection leaves crumbs of weight on members picked by chance in a bag or two;
    they would cost a refit and a prediction each for nothing."""
    import numpy as np

    from app.ml.training.ensemble import MIN_WEIGHT, select_weights
    rng = np.random.default_rng(2)
    n = 300
    y = rng.choice(np.array(["a", "b", "c"], dtype=object), n)
    classes = np.array(["a", "b", "c"], dtype=object)
    onehot = (y[:, None] == classes[None, :]).astype(float)
    oofs = [q * onehot + (1 - q) * rng.dirichlet(np.full(3, 1.35), n)
            for q in (0.6, 0.58, 0.5, 0.45, 0.4, 0.35)]
    # unpruned, the second model gets 0.025 of the weight (picked in a few bags)
    weights, score = select_weights(oofs, y, "classification", "accuracy", classes)
    assert weights == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert all(w == 0 or w >= MIN_WEIGHT for w in weights)
    assert score == np.mean(classes[np.argmax(oofs[0], axis=1)] == y)  # of the pruned blend


def _price_frame(n=400, seed=0):
    """A median price that is (about) a total divided by a count, as in txhousing."""
    rng = np.random.default_rng(seed)
    sales = rng.lognormal(5, 1.2, n)
    price = rng.lognormal(11.5, 0.3, n)
    X = pd.DataFrame({"sales": sales, "volume": sales * price * rng.lognormal(0, 0.05, n)})
    return X, price


def test_a_ridge_of_log_target_on_yeo_johnson_numbers_fits_a_ratio():
    ridge = REGRESSORS["ridge"]
    X, y = _price_frame()
    X_new, y_new = _price_frame(seed=1)
    kinds = {"sales": "float", "volume": "float"}

    def error(params):
        pipe = make_pipeline(ridge, {**ridge.defaults, **params}, 0, kinds, {}, "regression")
        fit_limited(pipe, X, y)
        return np.mean((pipe.predict(X_new) - y_new) ** 2) / np.var(y_new)

    plain, shaped = error({}), error({"numeric": "power", "target": "log"})
    assert shaped < 0.5 * plain


def test_a_log_target_model_never_predicts_inf_or_below_zero():
    ridge = REGRESSORS["ridge"]
    X, y = _price_frame()
    pipe = make_pipeline(ridge, {**ridge.defaults, "numeric": "power", "target": "log"}, 0,
                         {"sales": "float", "volume": "float"}, {}, "regression")
    fit_limited(pipe, X, y)
    odd = pd.DataFrame({"sales": [1e-9, 1e12, 1.0], "volume": [1e15, 1e-9, 1e300]})
    pred = pipe.predict(odd)
    assert np.all(np.isfinite(pred)) and np.all(pred >= 0)
    assert pred.max() <= np.expm1(np.log1p(y.max()) + 1.0) * (1 + 1e-9)


def test_log_target_inverts_within_its_range_and_clips_beyond():
    y = np.array([[0.0], [3.0], [120.0]])
    log = LogTarget().fit(y)
    np.testing.assert_allclose(log.inverse_transform(log.transform(y)), y)
    assert log.inverse_transform(np.array([[1e6]]))[0, 0] == pytest.approx(np.expm1(np.log1p(120) + 1))
    assert log.inverse_transform(np.array([[-50.0]]))[0, 0] == 0.0
