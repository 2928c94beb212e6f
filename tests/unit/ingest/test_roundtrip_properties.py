"""Property: any small frame written in any common dialect reads back with the same values."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ml.ingest import pipeline, read_table

DELIMITERS = [",", ";", "\t", "|"]
NEWLINES = ["\n", "\r\n", "\r"]
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéüñ"


@st.composite
def dialects(draw):
    return {
        "delimiter": draw(st.sampled_from(DELIMITERS)),
        "quotechar": draw(st.sampled_from(['"', "'"])),
        "newline": draw(st.sampled_from(NEWLINES)),
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"])),
    }


def _word(delimiter: str, quote: str):
    inner = LETTERS + " " + delimiter + quote
    return st.builds(
        lambda a, b, c: a + b + c,
        st.sampled_from(LETTERS), st.text(alphabet=inner, max_size=8), st.sampled_from(LETTERS),
    ).filter(lambda s: s.lower() not in {"na", "nan", "null", "none", "inf", "nat"} and "  " not in s)


def _column(kind: str, n: int, dialect: dict):
    maybe = lambda s: st.one_of(st.none(), s) if kind != "int_full" else s  # noqa: E731
    values = {
        "int": maybe(st.integers(-(10**12), 10**12)),
        "int_full": st.integers(-1000, 1000),
        "float": maybe(st.integers(-(10**6), 10**6).map(lambda i: i / 8 + 0.125)),
        "date": maybe(st.dates(dt.date(1950, 1, 1), dt.date(2050, 1, 1))),
        "text": maybe(_word(dialect["delimiter"], dialect["quotechar"])),
        "yesno": maybe(st.sampled_from(["yes", "no"])),
    }[kind]
    return st.lists(values, min_size=n, max_size=n)


@st.composite
def frames(draw):
    dialect = draw(dialects())
    n_rows = draw(st.integers(1, 25))
    kinds = ["int_full", *draw(st.lists(st.sampled_from(["int", "float", "date", "text", "yesno"]), min_size=1, max_size=5))]
    columns = [draw(_column(k, n_rows, dialect)) for k in kinds]
    for col in columns:  # a column needs at least one value to have a type
        if all(v is None for v in col):
            col[0] = draw(_column(kinds[columns.index(col)].replace("int_full", "int"), 1, dialect).filter(lambda c: c[0] is not None))[0]
    names = [f"col_{k}_{i}" for i, k in enumerate(kinds)]
    return dialect, names, columns


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _expected(value):
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return value


def _write(path, dialect, names, columns) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=dialect["delimiter"], quotechar=dialect["quotechar"],
                        lineterminator=dialect["newline"], quoting=csv.QUOTE_MINIMAL)
    writer.writerow(names)
    for row in zip(*columns, strict=True):
        writer.writerow([_cell(v) for v in row])
    text = buf.getvalue()
    try:
        path.write_bytes(text.encode(dialect["encoding"]))
    except UnicodeEncodeError:
        path.write_bytes(text.encode("utf-8"))


@pytest.mark.parametrize("reader", ["careful", "fast"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=frames())
def test_written_frames_read_back_equal(tmp_path, monkeypatch, reader, case):
    dialect, names, columns = case
    if reader == "fast":
        monkeypatch.setattr(pipeline, "ROBUST_MAX_BYTES", -1)
    path = tmp_path / "frame.csv"
    _write(path, dialect, names, columns)
    table, result = read_table(path)
    assert table.column_names == names
    assert result.dialect.delimiter == dialect["delimiter"]
    for name, col in zip(names, columns, strict=True):
        assert table.column(name).to_pylist() == [_expected(v) for v in col], name
