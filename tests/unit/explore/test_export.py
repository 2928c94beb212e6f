"""CSV and Parquet downloads: formula escaping of text only, JSON-free values, round trip."""

import csv
import datetime as dt
import io

import pyarrow.parquet as pq

from app.ml.export import export_csv, export_parquet


def read_back(path):
    out = io.BytesIO()
    escaped = export_csv(path, out)
    text = out.getvalue().decode("utf-8")
    return escaped, list(csv.reader(io.StringIO(text))), text


def test_csv_escapes_text_cells_and_counts_them(people):
    escaped, rows, _ = read_back(people)
    assert rows[0] == ["id", "age", "income", "member", "city", "joined", "note"]
    notes = [r[6] for r in rows[1:]]
    assert notes == ["'=SUM(A1)", "hello world", "  padded  ", "'-dash", "", "'+plus", "'@at", "ok"]
    assert escaped == 4


def test_negative_numbers_are_never_escaped(people):
    _, rows, _ = read_back(people)
    assert rows[8][2] == "-50"
    assert [r[2] for r in rows[1:5]] == ["1000.5", "2500", "", ""]  # NaN and null are empty


def test_header_escaped_when_text_starts_like_a_formula(make_version):
    path = make_version(
        {"=cmd": ["\tx", "\ry", "@z", "plain"], "-n": [-1, -2, 3, 4]},
        {"=cmd": "text", "-n": "integer"},
    )
    escaped, rows, _ = read_back(path)
    assert rows[0] == ["'=cmd", "'-n"]
    assert [r[0] for r in rows[1:]] == ["'\tx", "'\ry", "'@z", "plain"]
    assert [r[1] for r in rows[1:]] == ["-1", "-2", "3", "4"]
    assert escaped == 5


def test_csv_dates_quoting_and_utf8(make_version):
    path = make_version(
        {
            "d": [dt.datetime(2020, 1, 5), dt.datetime(2020, 1, 5, 1, 2, 3, 500), None],
            "s": ["a,b", 'say "hi"', "é\nnewline"],
        },
        {"d": "datetime", "s": "text"},
    )
    escaped, rows, text = read_back(path)
    assert escaped == 0
    assert rows[1] == ["2020-01-05T00:00:00", "a,b"]
    assert rows[2] == ["2020-01-05T01:02:03.000500", 'say "hi"']
    assert rows[3] == ["", "é\nnewline"]
    assert text.startswith("d,s\n")


def test_csv_to_a_text_stream(people):
    out = io.StringIO()
    assert export_csv(people, out) == 4
    assert out.getvalue().splitlines()[0].startswith("id,age")


def test_parquet_export_is_the_version(people):
    out = io.BytesIO()
    export_parquet(people, out)
    assert out.getvalue() == people.read_bytes()
    out.seek(0)
    assert pq.read_table(out).column_names == pq.read_table(people).column_names
