"""The column-kind rule of app.ml.kinds, on strings and on typed columns."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from app.ml.kinds import classify, clean_strings, infer_kind


def _kind(values, name=""):
    return classify(clean_strings(pa.array(values, pa.string())), name).kind


@pytest.mark.parametrize(
    ("values", "name", "kind"),
    [
        (["1", "2", "-3", None], "n", "integer"),
        (["1.5", "2", "NA"], "x", "float"),
        (["2024-01-02", "2024-02-03"], "d", "datetime"),
        (["yes", "no", "No"], "flag", "boolean"),
        (["true", "false"], "flag", "boolean"),
        (["0", "1", "1"], "flag", "integer"),
        (["red", "green", "red", "blue"], "colour", "categorical"),
        ([f"user-{i:04d}x" for i in range(30)], "who", "id"),
        ([f"{i}" for i in range(100, 130)], "customer_id", "id"),
        ([str(i) for i in range(30)], "count", "id"),
        ([str(i % 7) for i in range(30)], "count", "integer"),
        (["a fairly long sentence that goes on and on " + str(i) for i in range(5)], "notes", "text"),
        (["007", "010", "123"], "code", "categorical"),
        ([None, None], "empty", "categorical"),
    ],
)
def test_kind_rule(values, name, kind):
    assert _kind(values, name) == kind


def test_infer_kind_on_pandas_and_typed_arrow():
    assert infer_kind(pd.Series([1.5, 2.5, None])) == "float"
    assert infer_kind(pd.Series(["a", "b", "a"], name="c")) == "categorical"
    assert infer_kind(pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"]))) == "datetime"
    assert infer_kind(pa.array([True, False])) == "boolean"
    assert infer_kind(pa.array(range(50)), name="row_id") == "id"
    assert infer_kind(pa.array([3, 1, 2, 3])) == "integer"
