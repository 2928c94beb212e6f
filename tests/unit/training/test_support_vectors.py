"""The support vector machine: what it is for, its probabilities, its scaling and its limits."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.datasets import load_digits
from sklearn.svm import SVC

from app.ml.tracking import TRUSTED_TYPES
from app.ml.training import SearchRequest, TrainingRejected, run_search
from app.ml.training.candidates import Candidate, fit_limited, make_pipeline
from app.ml.training.families import CLASSIFIERS, SVM_MAX_ROWS, families_for
from app.ml.training.preprocessing import STANDARD
from app.ml.training.refits import REFIT_ALL_SAFETY, REFIT_SAFETY, one_refit_seconds, refit_rows
from app.ml.training.request import KeptModel
from app.ml.training.search import _one_standard_error
from app.ml.training.transformers import SupportVectorClassifier

SVM = "support_vector_machine"


def _digits(n_train=600, n_test=300):
    """Hand-written digits (8 x 8 pixel intensities, 0-16) as the app would hold them."""
    X, y = load_digits(return_X_y=True)
    frame = pd.DataFrame(X, columns=[f"p{i}" for i in range(X.shape[1])])
    kinds = dict.fromkeys(frame.columns, "float")
    labels = y.astype(str).astype(object)
    train, test = slice(0, n_train), slice(n_train, n_train + n_test)
    return frame[train], labels[train], frame[test], labels[test], kinds


def _wrong(family_name, params, X, y, X_test, y_test, kinds):
    family = CLASSIFIERS[family_name]
    pipe = make_pipeline(family, {**family.defaults, **params}, 0, kinds, {}, "classification",
                         len(X))
    fit_limited(pipe, X, y)
    return int((pipe.predict(X_test) != y_test).sum())


def test_the_svm_reads_pixels_better_than_a_forest_and_better_on_their_range():
    """What the family is for: a signal spread over many similar columns. And why its numbers
    are scaled to their range by default: standardised, a border pixel that is almost
    always 0 weighs as much as a stroke."""
    X, y, X_test, y_test, kinds = _digits()
    svm = _wrong(SVM, {}, X, y, X_test, y_test, kinds)
    forest = _wrong("extra_trees", {}, X, y, X_test, y_test, kinds)
    standardised = _wrong(SVM, {"numeric": STANDARD}, X, y, X_test, y_test, kinds)
    assert svm < 0.75 * forest
    assert svm < 0.75 * standardised


def test_its_predictions_are_its_most_probable_classes_even_with_a_single_row_class():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "up", "down").astype(object)
    for labels in (y, np.concatenate([y[:-1], ["odd"]]).astype(object)):  # one row of "odd"
        model = SupportVectorClassifier(C=3.0).fit(X, labels)
        proba = model.predict_proba(X)
        assert proba.shape == (60, len(set(labels)))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert list(model.predict(X)) == list(model.classes_[proba.argmax(axis=1)])
        assert (model.predict(X) == labels).mean() > 0.9
        saved = skops.io.dumps(model)  # either way, nothing outside our trusted list
        assert set(skops.io.get_untrusted_types(data=saved)) <= TRUSTED_TYPES
        loaded = skops.io.loads(saved, trusted=sorted(TRUSTED_TYPES))
        assert (loaded.predict_proba(X) == proba).all()


def test_its_kernel_width_is_a_multiple_of_sklearns_scale():
    """gamma_factor 1 is sklearn's gamma="scale", whatever the columns' number and spread."""
    rng = np.random.default_rng(1)
    for columns, spread in ((3, 1.0), (40, 0.05)):
        X = rng.normal(scale=spread, size=(80, columns))
        y = (X[:, 0] > 0).astype(int)
        reference = SVC(gamma="scale").fit(X, y)
        for factor in (1.0, 4.0):
            ours = SupportVectorClassifier(gamma_factor=factor).fit(X, y)
            assert ours.model_.calibrated_classifiers_[0].estimator.gamma == \
                pytest.approx(factor * reference._gamma)


def test_a_search_of_svms_alone_keeps_one_that_takes_raw_rows(frame, kinds):
    result = run_search(frame, kinds, SearchRequest(target="label", time_budget_s=30,
                                                    max_candidates=3, families=[SVM]),
                        on_progress=lambda p: None, should_stop=lambda: False)
    assert result.best_family == SVM
    assert [c["params"]["numeric"] for c in result.candidates[:2]] == ["range", "standard"]
    assert all(c["status"] == "ok" for c in result.candidates)
    rows = frame.head(4).drop(columns=["label"]).copy()
    rows.loc[0, "color"] = "violet"  # unseen
    rows.loc[1, ["x", "count", "color"]] = None
    proba = result.best.pipeline.predict_proba(rows)
    assert list(result.best.pipeline.predict(rows)) == \
        list(result.best.pipeline.classes_[proba.argmax(axis=1)])


def test_the_svm_is_offered_for_classification_up_to_its_row_limit():
    assert SVM in [f.name for f in families_for("classification", None, SVM_MAX_ROWS)]
    assert SVM not in [f.name for f in families_for("classification", None, SVM_MAX_ROWS + 1)]
    assert SVM not in [f.name for f in families_for("regression")]
    with pytest.raises(TrainingRejected) as err:
        SearchRequest(target="y", families=[SVM]).checked("classification", SVM_MAX_ROWS + 1)
    assert "10,000 rows" in err.value.errors["models"][0]
    assert "every pair of rows" in err.value.errors["models"][0]


def test_the_svm_keeps_its_smallest_c_within_one_standard_error():
    """Tried a hundred times on a few hundred rows, its best C wins CV partly by chance."""
    svm = CLASSIFIERS[SVM]

    def cand(i, c, acc):
        return Candidate(i, svm, {**svm.defaults, "C": c}, status="ok",
                         cv_metrics={"accuracy": acc}, cv_score=acc, oof=np.zeros((4, 2)))

    cands = [cand(0, 1.0, 0.990), cand(1, 20.0, 0.996), cand(2, 0.1, 0.90)]
    best = {SVM: cands[1]}
    _one_standard_error(cands, best, "accuracy", n_rows=275)
    assert best[SVM] is cands[0]


def test_its_refits_on_more_rows_are_planned_as_growing_with_the_rows_squared():
    """Four times the rows cost an SVM about sixteen times the seconds, not four: the time
    plan must not send it to refit on all rows it cannot finish in time."""
    kept = KeptModel(SVM, "SVM", None, {}, 0.9, {}, fit_time_s=1.0, trained_rows=1_000,
                     fit_power=CLASSIFIERS[SVM].fit_power)
    assert one_refit_seconds(kept, 4_000) == pytest.approx(REFIT_ALL_SAFETY * 16 + 0.05)
    linear = dataclasses.replace(kept, fit_power=1.0)
    assert one_refit_seconds(linear, 4_000) == pytest.approx(REFIT_ALL_SAFETY * 4 + 0.05)
    # 5 folds of 800 rows took 1 s each: 6 s afford 800 x sqrt(6 / 1.5) rows, not 4x
    svm = Candidate(0, CLASSIFIERS[SVM], {}, fit_time_s=5.0)
    assert refit_rows(svm, 10_000, 800, 5, 6.0 * REFIT_SAFETY / 1.5) == 1_600
    forest = Candidate(0, CLASSIFIERS["extra_trees"], {}, fit_time_s=5.0)
    assert refit_rows(forest, 10_000, 800, 5, 6.0 * REFIT_SAFETY / 1.5) == 3_200
