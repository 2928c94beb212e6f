import numpy as np
import pytest

from app.ml.training import TrainingRejected, preview_training


def _excluded(preview):
    return {e["name"]: e["reason"] for e in preview["excluded"]}


def test_default_exclusions_and_class_counts(frame, kinds):
    frame["label_copy"] = frame["label"].map({"yes": "Y", "no": "N"})
    kinds["label_copy"] = "categorical"
    preview = preview_training(frame, kinds, "label")
    excluded = _excluded(preview)
    assert excluded["customer_id"].startswith("id-like")
    assert excluded["constant"].startswith("constant")
    assert "leak" in excluded["label_copy"]
    names = [f["name"] for f in preview["features"]]
    assert names == ["x", "count", "color", "signed", "amount"]
    assert preview["task"] == "classification"
    assert sum(preview["class_counts"].values()) == len(frame)


def test_regression_leak_by_correlation_and_user_exclusion(frame, kinds):
    frame["amount_cents"] = frame["amount"] * 100
    kinds["amount_cents"] = "float"
    preview = preview_training(frame, kinds, "amount", exclude_columns=["count"])
    excluded = _excluded(preview)
    assert "leak" in excluded["amount_cents"]
    assert excluded["count"] == "excluded by you"
    assert preview["task"] == "regression"
    assert "class_counts" not in preview


def test_missing_target_rows_are_dropped_and_counted(frame, kinds):
    frame.loc[:9, "label"] = None
    preview = preview_training(frame, kinds, "label")
    assert preview["dropped_missing_target"] == 10
    assert any("10 rows" in w for w in preview["warnings"])


@pytest.mark.parametrize("change, target, field", [
    (lambda f: None, "nope", "target"),
    (lambda f: f.__setitem__("label", "yes"), "label", "target"),
    (lambda f: f.__setitem__("label", np.where(np.arange(len(f)) == 0, "rare", "yes")),
     "label", "target"),
])
def test_impossible_requests_are_422(frame, kinds, change, target, field):
    change(frame)
    with pytest.raises(TrainingRejected) as err:
        preview_training(frame, kinds, target)
    assert err.value.status == 422
    assert field in err.value.errors


def test_no_usable_feature_is_422(frame, kinds):
    keep = frame[["customer_id", "constant", "label"]]
    with pytest.raises(TrainingRejected) as err:
        preview_training(keep, kinds, "label")
    assert "usable" in err.value.message
