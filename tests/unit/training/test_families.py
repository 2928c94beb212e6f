"""Each family fits and predicts on small data; only allow-listed options reach estimators."""

import numpy as np
import pytest

from app.ml.training.candidates import fit_limited, make_pipeline
from app.ml.training.families import CLASSIFIERS, REGRESSORS
from app.ml.training.preprocessing import category_cardinality

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
    counts, score = select_weights([sure, mild], y, "classification", "accuracy", classes)
    assert counts[1] > 0 and score == 0.75  # same accuracy: the lower log loss is chosen
