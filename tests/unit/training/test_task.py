import pandas as pd
import pytest

from app.ml.training import TrainingRejected, detect_task
from app.ml.training.task import resolve_task


def test_text_labels_are_classification():
    task, reason = detect_task(pd.Series(["a", "b", "a", None]), "categorical")
    assert task == "classification"
    assert reason == "text labels with 2 distinct values → classification"


def test_few_integers_are_classes_many_are_quantities():
    assert detect_task(pd.Series([1, 2, 3, 1] * 5, dtype="Int64"), "integer") == (
        "classification", "integer with 3 distinct values → classification")
    task, reason = detect_task(pd.Series(range(812), dtype="Int64"), "integer")
    assert task == "regression"
    assert "812 distinct" in reason


def test_decimals_are_regression():
    task, reason = detect_task(pd.Series([0.5 * i for i in range(812)]), "float")
    assert (task, reason) == ("regression",
                              "decimal numbers with 812 distinct values → regression")


def test_dates_cannot_be_targets():
    with pytest.raises(TrainingRejected) as err:
        detect_task(pd.Series(pd.date_range("2020", periods=3)), "datetime")
    assert err.value.status == 422


def test_override_to_classification_is_allowed_but_not_regression_on_text():
    task, reason = resolve_task(pd.Series(range(100), dtype="Int64"), "integer", "classification")
    assert task == "classification" and "chosen by you" in reason
    with pytest.raises(TrainingRejected):
        resolve_task(pd.Series(["a", "b"]), "categorical", "regression")
