"""Every cleaning operation: its effect, its kinds metadata, and invalid calls that change nothing."""

import datetime as dt
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.ml.explore import read_kinds
from app.ml.operations import (
    REGISTRY,
    InvalidOperation,
    apply_operation,
    preview_operation,
    validate_operation,
)


@pytest.fixture
def apply(tmp_path):
    """apply(src, op, params) -> (summary, {column: values}, kinds) of the written version."""

    def run(src, op, params):
        dest = tmp_path / f"out-{op}.parquet"
        summary = apply_operation(src, dest, op, params)
        return summary, pq.read_table(dest).to_pydict(), read_kinds(dest)

    return run


def test_registry_holds_every_documented_operation():
    assert set(REGISTRY) == {
        "drop_columns",
        "rename_columns",
        "cast",
        "fill_missing",
        "drop_missing",
        "drop_duplicates",
        "drop_rows",
        "filter_rows",
        "replace_values",
        "parse_dates",
        "trim_text",
    }


def test_drop_columns(people, apply):
    summary, data, kinds = apply(people, "drop_columns", {"columns": ["note", "city"]})
    assert list(data) == ["id", "age", "income", "member", "joined"]
    assert list(kinds) == list(data) and kinds["member"] == "boolean"
    assert summary["n_cols"] == 5 and summary["n_rows"] == 8
    assert summary["columns"][1] == {"name": "age", "kind": "integer", "missing": 2, "unique": 5}


def test_rename_columns(people, apply):
    _, data, kinds = apply(people, "rename_columns", {"mapping": {"age": "years", "city": "town"}})
    assert list(data)[:2] == ["id", "years"] and "town" in data
    assert kinds["years"] == "integer" and kinds["town"] == "categorical"
    assert data["years"][0] == 30


def test_cast_integer_to_float_and_text(people, apply):
    _, data, kinds = apply(people, "cast", {"column": "age", "to": "float"})
    assert kinds["age"] == "float" and data["age"][0] == 30.0
    _, data, kinds = apply(people, "cast", {"column": "age", "to": "text"})
    assert kinds["age"] == "text" and data["age"][:2] == ["30", None]


def test_cast_text_to_integer_and_refusal(make_version, apply):
    path = make_version({"n": ["1", " 2", "3.0", None, "-4"]}, {"n": "categorical"})
    _, data, kinds = apply(path, "cast", {"column": "n", "to": "integer"})
    assert data["n"] == [1, 2, 3, None, -4] and kinds["n"] == "integer"
    bad = make_version({"n": ["1", "2.5", "abc"]}, {"n": "categorical"})
    with pytest.raises(InvalidOperation) as err:
        apply(bad, "cast", {"column": "n", "to": "integer"})
    assert "2 values" in err.value.message and "'2.5'" in err.value.message
    assert "to" in err.value.errors
    _, data, _ = apply(bad, "cast", {"column": "n", "to": "integer", "on_invalid": "missing"})
    assert data["n"] == [1, None, None]


def test_cast_float_to_integer_refuses_fractions(people, apply):
    with pytest.raises(InvalidOperation):
        apply(people, "cast", {"column": "income", "to": "integer"})


def test_cast_boolean_both_ways(people, make_version, apply):
    _, data, kinds = apply(people, "cast", {"column": "member", "to": "integer"})
    assert data["member"][:4] == [1, 0, 1, None] and kinds["member"] == "integer"
    flags = make_version({"f": [1, 0, None, 1]}, {"f": "integer"})
    _, data, kinds = apply(flags, "cast", {"column": "f", "to": "boolean"})
    assert data["f"] == ["1", "0", None, "1"] and kinds["f"] == "boolean"
    words = make_version({"w": ["Yes", "no", "maybe"]}, {"w": "categorical"})
    with pytest.raises(InvalidOperation):
        apply(words, "cast", {"column": "w", "to": "boolean"})


def test_cast_text_to_datetime(make_version, apply):
    path = make_version({"d": ["2021-03-04", "2021-12-31T10:30:00", None]}, {"d": "text"})
    _, data, kinds = apply(path, "cast", {"column": "d", "to": "datetime"})
    assert kinds["d"] == "datetime"
    assert data["d"] == [dt.datetime(2021, 3, 4), dt.datetime(2021, 12, 31, 10, 30), None]


def test_cast_datetime_to_number_is_refused_before_reading(people):
    with pytest.raises(InvalidOperation) as err:
        validate_operation("cast", {"column": "joined", "to": "integer"}, read_kinds(people))
    assert "to" in err.value.errors


def test_fill_missing_strategies(people, apply):
    _, data, _ = apply(people, "fill_missing", {"columns": ["age"], "strategy": "mean"})
    assert data["age"][1] == 36  # mean 35.67 rounded, stays a whole number
    _, data, _ = apply(people, "fill_missing", {"columns": ["income"], "strategy": "median"})
    assert data["income"][2] == 1100.25 and data["income"][3] == 1100.25  # NaN counts as missing
    _, data, _ = apply(people, "fill_missing", {"columns": ["city", "member"], "strategy": "mode"})
    assert data["city"][4] == "Lyon" and data["member"][3] == "yes"
    summary, data, _ = apply(
        people, "fill_missing", {"columns": ["note"], "strategy": "constant", "value": "n/a"}
    )
    assert data["note"][4] == "n/a"
    assert summary["columns"][6]["missing"] == 0


def test_fill_missing_invalid(people):
    kinds = read_kinds(people)
    for params in (
        {"columns": ["city"], "strategy": "mean"},
        {"columns": ["age"], "strategy": "constant"},
        {"columns": ["age"], "strategy": "constant", "value": "old"},
        {"columns": ["age"], "strategy": "constant", "value": 1.5},
        {"columns": ["age"], "strategy": "average"},
        {"columns": [], "strategy": "mode"},
        {"columns": ["nope"], "strategy": "mode"},
    ):
        with pytest.raises(InvalidOperation):
            validate_operation("fill_missing", params, kinds)


def test_drop_missing(people, apply):
    summary, data, _ = apply(people, "drop_missing", {"columns": ["age", "income"]})
    assert data["id"] == ["a1", "a5", "a6", "a8"] and summary["n_rows"] == 4
    _, data, _ = apply(people, "drop_missing", {})
    assert data["id"] == ["a1", "a6"]


def test_drop_duplicates(make_version, apply):
    path = make_version(
        {"a": [1, 2, 1, 1], "b": ["x", "y", "x", "z"]}, {"a": "integer", "b": "text"}
    )
    _, data, _ = apply(path, "drop_duplicates", {})
    assert data == {"a": [1, 2, 1], "b": ["x", "y", "z"]}
    _, data, _ = apply(path, "drop_duplicates", {"columns": ["a"]})
    assert data == {"a": [1, 2], "b": ["x", "y"]}


def test_drop_rows(people, apply):
    _, data, _ = apply(people, "drop_rows", {"row_numbers": [0, 7, 3, 3]})
    assert data["id"] == ["a2", "a3", "a5", "a6", "a7"]
    with pytest.raises(InvalidOperation) as err:
        apply(people, "drop_rows", {"row_numbers": [8]})
    assert "row_numbers" in err.value.errors
    with pytest.raises(InvalidOperation):
        apply(people, "drop_rows", {"row_numbers": [-1]})


def test_filter_rows(people, apply):
    _, data, _ = apply(people, "filter_rows", {"column": "age", "operator": ">=", "value": 30})
    assert data["id"] == ["a1", "a4", "a6", "a8"]
    _, data, _ = apply(
        people, "filter_rows", {"column": "city", "operator": "contains", "value": "PAR"}
    )
    assert data["id"] == ["a1", "a3", "a8"]
    _, data, _ = apply(people, "filter_rows", {"column": "income", "operator": "is_missing"})
    assert data["id"] == ["a3", "a4"]
    _, data, _ = apply(
        people, "filter_rows", {"column": "joined", "operator": "<", "value": "2020-01-01"}
    )
    assert data["id"] == ["a2", "a5"]


def test_replace_values_keeps_spelling_elsewhere(people, apply):
    _, data, kinds = apply(
        people, "replace_values", {"column": "city", "mapping": {"paris": "Paris", "Nice": None}}
    )
    assert data["city"] == ["Paris", "Lyon", "Paris", None, None, "Lyon", "Lyon", "Paris"]
    assert kinds["city"] == "categorical"
    _, data, _ = apply(people, "replace_values", {"column": "age", "mapping": {"25": 26}})
    assert data["age"][2] == 26 and data["age"][4] == 26


def test_parse_dates_with_and_without_format(make_version, apply):
    path = make_version({"d": ["31/12/2020", "01/02/2021", None]}, {"d": "categorical"})
    _, data, kinds = apply(path, "parse_dates", {"column": "d"})
    assert data["d"][0] == dt.datetime(2020, 12, 31) and kinds["d"] == "datetime"
    assert data["d"][1] == dt.datetime(2021, 2, 1)  # day-first is the only reading of 31/12
    _, data, _ = apply(path, "parse_dates", {"column": "d", "format": "%d/%m/%Y"})
    assert data["d"][1] == dt.datetime(2021, 2, 1)
    with pytest.raises(InvalidOperation):
        apply(path, "parse_dates", {"column": "d", "format": "%Y-%m-%d"})
    junk = make_version({"d": ["soon", "later"]}, {"d": "text"})
    with pytest.raises(InvalidOperation):
        apply(junk, "parse_dates", {"column": "d"})


def test_trim_text(people, apply):
    _, data, _ = apply(people, "trim_text", {})
    assert data["note"][2] == "padded" and data["city"] == [
        "Paris",
        "Lyon",
        "paris",
        "Nice",
        None,
        "Lyon",
        "Lyon",
        "Paris",
    ]
    with pytest.raises(InvalidOperation):
        validate_operation("trim_text", {"columns": ["age"]}, read_kinds(people))


def test_trim_text_turns_blank_into_missing(make_version, apply):
    path = make_version({"t": ["  ", " a ", None]}, {"t": "text"})
    _, data, _ = apply(path, "trim_text", {"columns": ["t"]})
    assert data["t"] == [None, "a", None]


@pytest.mark.parametrize(
    ("op", "params"),
    [
        ("explode", {}),
        ("drop_columns", {"columns": ["nope"]}),
        ("drop_columns", {"columns": ["id", "age", "income", "member", "city", "joined", "note"]}),
        ("drop_columns", {"columns": "age", "extra": 1}),
        ("rename_columns", {"mapping": {"age": "id"}}),
        ("rename_columns", {"mapping": {"age": " "}}),
        ("rename_columns", {"mapping": {"nope": "x"}}),
        ("cast", {"column": "age", "to": "complex"}),
        ("cast", {"column": "city", "to": "integer"}),
        ("cast", {"column": "note", "to": "datetime"}),
        ("drop_rows", {"row_numbers": []}),
        ("drop_rows", {"row_numbers": ["1"]}),
        ("filter_rows", {"column": "age", "operator": ">", "value": "old"}),
        ("filter_rows", {"column": "age", "operator": "~", "value": 1}),
        ("filter_rows", {"column": "age", "operator": ">"}),
        ("replace_values", {"column": "age", "mapping": {"x": 1}}),
        ("replace_values", {"column": "age", "mapping": {}}),
        ("parse_dates", {"column": "joined"}),
        ("parse_dates", {"column": "note", "format": "dd/mm"}),
        ("trim_text", {"columns": ["income"]}),
        ("fill_missing", {"columns": ["joined"], "strategy": "median"}),
    ],
)
def test_invalid_operations_write_nothing(people, tmp_path, op, params):
    dest = tmp_path / "never.parquet"
    before = people.read_bytes()
    with pytest.raises(InvalidOperation) as err:
        apply_operation(people, dest, op, params)
    assert err.value.status == 422 and err.value.message and err.value.errors
    assert not dest.exists()
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert people.read_bytes() == before
    with pytest.raises(InvalidOperation):
        preview_operation(people, op, params)


def test_preview_counts(people):
    out = preview_operation(people, "filter_rows", {"column": "age", "operator": ">=", "value": 30})
    assert (out["rows_before"], out["rows_after"], out["cells_changed"]) == (8, 4, 0)
    assert [r["_row"] for r in out["rows"]] == [0, 3, 5, 7]
    assert out["columns"][0] == "id"
    out = preview_operation(
        people, "fill_missing", {"columns": ["age", "income"], "strategy": "median"}
    )
    assert out["cells_changed"] == 4 and out["rows_after"] == 8
    assert out["rows"][2]["income"] == 1100.25
    out = preview_operation(people, "cast", {"column": "age", "to": "float"})
    assert out["cells_changed"] == 0
    out = preview_operation(people, "drop_columns", {"columns": ["note"]})
    assert "note" not in out["columns"] and out["cells_changed"] == 0
    out = preview_operation(people, "rename_columns", {"mapping": {"age": "years"}})
    assert out["cells_changed"] == 0 and out["rows"][0]["years"] == 30


def test_preview_shows_first_twenty_rows(make_version):
    path = make_version({"n": list(range(50))}, {"n": "integer"})
    out = preview_operation(path, "replace_values", {"column": "n", "mapping": {"3": 300}})
    assert len(out["rows"]) == 20 and out["rows"][3]["n"] == 300 and out["cells_changed"] == 1


def test_apply_keeps_values_spelling_and_types(people, apply):
    _, data, kinds = apply(people, "drop_rows", {"row_numbers": [1]})
    assert data["member"][:2] == ["yes", "yes"]
    table = pq.read_table(people.parent / "out-drop_rows.parquet")
    assert str(table.schema.field("age").type) == "int64"
    assert str(table.schema.field("joined").type).startswith("timestamp")
    assert kinds == read_kinds(people)


def test_row_order_survives_parallel_scans(tmp_path):
    """Many row groups are read by several threads, and DuckDB runs a long IN list (cast from
    boolean words) as a join: the new version must still keep the file's order."""
    import json

    n = 60_000
    table = pa.table(
        {
            "n": pa.array(range(n), pa.int64()),
            "x": pa.array([None if i % 7 else 1.0 for i in range(n)]),
            "flag": pa.array(["yes" if i % 2 else "no" for i in range(n)]),
        }
    )
    kinds = {"n": "integer", "x": "float", "flag": "boolean"}
    table = table.replace_schema_metadata({b"csv_analyzer.kinds": json.dumps(kinds).encode()})
    src = tmp_path / "big.parquet"
    pq.write_table(table, src, row_group_size=1000)
    everything = list(range(n))
    for op, params, expected in [
        ("fill_missing", {"columns": ["x"], "strategy": "constant", "value": 0}, everything),
        ("cast", {"column": "flag", "to": "integer"}, everything),
        ("filter_rows", {"column": "n", "operator": ">=", "value": 100}, everything[100:]),
        (
            "drop_rows",
            {"row_numbers": [0, 5, n - 1]},
            [i for i in everything if i not in (0, 5, n - 1)],
        ),
        ("drop_duplicates", {"columns": ["x"]}, [0, 1]),
    ]:
        dest = tmp_path / f"{op}.parquet"
        summary = apply_operation(src, dest, op, params)
        assert pq.read_table(dest).column("n").to_pylist() == expected, op
        assert summary["n_rows"] == len(expected)
    assert pq.read_table(tmp_path / "cast.parquet").column("flag").to_pylist()[:3] == [0, 1, 0]


def test_integer_id_keeps_its_storage_type(make_version, apply):
    """Ingest stores an id of integer codes as int64: operations keep it so."""
    path = make_version(
        {"code": list(range(100, 125)), "v": [1.0] * 24 + [None]},
        {"code": "id", "v": "float"},
        types={"code": pa.int64()},
    )
    _, data, kinds = apply(path, "replace_values", {"column": "code", "mapping": {"100": 99}})
    assert data["code"][:2] == [99, 101] and kinds["code"] == "id"
    table = pq.read_table(path.parent / "out-replace_values.parquet")
    assert str(table.schema.field("code").type) == "int64"
    apply(path, "fill_missing", {"columns": ["v"], "strategy": "constant", "value": 0})
    table = pq.read_table(path.parent / "out-fill_missing.parquet")
    assert str(table.schema.field("code").type) == "int64"
    _, data, _ = apply(path, "filter_rows", {"column": "code", "operator": ">", "value": "120"})
    assert data["code"] == [121, 122, 123, 124]


def test_operation_leaving_no_rows_still_writes_a_version(people, apply):
    summary, data, kinds = apply(
        people, "filter_rows", {"column": "age", "operator": ">", "value": 1000}
    )
    assert summary["n_rows"] == 0 and summary["n_cols"] == 7
    assert data["age"] == [] and kinds == read_kinds(people)
    assert summary["columns"][0] == {"name": "id", "kind": "id", "missing": 0, "unique": 0}
