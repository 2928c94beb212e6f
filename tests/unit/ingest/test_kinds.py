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


def test_string_columns_keep_their_value_counts_for_the_profile():
    """The typing's one hash pass (value_counts) is handed to the in-memory profile, which then
    gives the same lengths, distinct count and top values as counting the column itself."""
    from app.ml.ingest.convert import build_table
    from app.ml.profile import profile_table

    words = ["red", "green", None, "blue", "green", "red ", "green"] * 5
    cities = [f"city {i % 9}" for i in range(35)]
    counts: dict = {}
    table, infos, _ = build_table(
        ["colour", "city"], [pa.chunked_array([pa.array(words)]), pa.chunked_array([pa.array(cities)])],
        ".", None, value_counts=counts,
    )
    assert set(counts) == {"colour", "city"}
    keys, freq = counts["colour"]
    # counts of the stored values: "red " was trimmed to "red"
    assert dict(zip(keys.to_pylist(), freq.to_pylist(), strict=True)) == {"red": 10, "green": 15, "blue": 5}
    assert table.column("colour").to_pylist() == [None if w is None else w.strip() for w in words]
    assert [i.unique for i in infos] == [3, 9]
    assert profile_table(table, None, counts) == profile_table(table)


def test_an_increasing_integer_column_is_an_id_without_counting_its_distinct_values(monkeypatch):
    """Values that only go up (nulls aside, across chunks) are all distinct: no hash pass."""
    import pyarrow.compute as pc

    from app.ml import kinds

    counted = []
    real = pc.count_distinct
    monkeypatch.setattr(pc, "count_distinct", lambda *a, **k: counted.append(1) or real(*a, **k))
    up = pa.chunked_array([[1, 2, None, 5], [], [None], [7, 9, *range(10, 30)]])
    result = kinds.classify_typed(up, "n")
    assert (result.kind, result.distinct, counted) == ("id", 25, [])
    # a repeat where two chunks meet: counted, and an integer column
    again = pa.chunked_array([list(range(1, 20)), list(range(19, 40))])
    result = kinds.classify_typed(again, "n")
    assert (result.kind, result.distinct, len(counted)) == ("integer", 39, 1)
    assert kinds.classify(pa.chunked_array([[str(i) for i in range(100, 130)]]), "n").kind == "id"
    assert len(counted) == 1
