"""Small Parquet versions written the way ingest writes them (kinds in the schema metadata)."""

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


@pytest.fixture
def make_version(tmp_path):
    """make_version({column: values}, {column: kind}, name=...) -> path of a Parquet version."""
    counter = iter(range(10_000))

    def make(columns: dict, kinds: dict, name: str | None = None, types: dict | None = None):
        types = types or {}
        arrays = {}
        for col, values in columns.items():
            kind = kinds[col]
            typ = types.get(col) or {
                "integer": pa.int64(),
                "float": pa.float64(),
                "datetime": pa.timestamp("us"),
            }.get(kind, pa.string())
            arrays[col] = pa.array(values, type=typ)
        table = pa.table(arrays)
        table = table.replace_schema_metadata({b"csv_analyzer.kinds": json.dumps(kinds).encode()})
        path = tmp_path / (name or f"v{next(counter)}.parquet")
        pq.write_table(table, path, row_group_size=4)
        return path

    return make


@pytest.fixture
def people(make_version):
    """Eight rows with every kind and missing values in most columns."""
    d = dt.datetime
    return make_version(
        {
            "id": ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"],
            "age": [30, None, 25, 41, 25, 60, None, 33],
            "income": [1000.5, 2500.0, float("nan"), None, 800.0, 4000.25, 1200.0, -50.0],
            "member": ["yes", "no", "yes", None, "yes", "no", "yes", "yes"],
            "city": ["Paris", "Lyon", "paris", "Nice", None, "Lyon", "Lyon", "Paris"],
            "joined": [
                d(2020, 1, 5),
                d(2019, 6, 1),
                None,
                d(2021, 3, 3),
                d(2019, 12, 31),
                d(2022, 1, 1),
                d(2020, 7, 14),
                None,
            ],
            "note": ["=SUM(A1)", "hello world", "  padded  ", "-dash", None, "+plus", "@at", "ok"],
        },
        {
            "id": "id",
            "age": "integer",
            "income": "float",
            "member": "boolean",
            "city": "categorical",
            "joined": "datetime",
            "note": "text",
        },
    )
