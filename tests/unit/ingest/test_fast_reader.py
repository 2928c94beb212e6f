"""The pyarrow reader used for large files gives the careful reader's answer, or hands over."""

from __future__ import annotations

import threading
from itertools import accumulate

import pytest

from app.ml.ingest import CellTooLarge, pipeline, read_table

CASES = {
    "clean": "id,name,score\n" + "".join(f"{i},n{i % 7},{i / 4}\n" for i in range(200)),
    "bad rows": "id,code,x\n" + "".join(
        f"{i},C-{i:04d},{i}.5\n" if i % 50 else f"{i},C-{i:04d},,{i}.5\n" for i in range(1, 200)
    ),
    "second table": "a,b\n1,x\n2,y\n3,z\na,b\n9,q\n",
    "preamble and blank lines": "Report\n\nMade today\n\nid,v\n\n1,2.5\n2,3.5\n\n3,4.5\n",
    "multi-line values": 'id,note\n1,"two\nlines"\n2,"x"\n3,"a, b"\n',
    "codes, wide integers, thousands, booleans, dates": "zip;big;amount;ok;day;at\n" + "".join(
        f"0{i:04d};{10**20 + i};{i}.{i:03d},5;{'yes' if i % 2 else 'no'};2024-01-{i % 28 + 1:02d};"
        f"2024-01-01T10:00:{i % 60:02d}Z\n" for i in range(1, 60)
    ),
    "inf and nan": "k,v\n" + "".join(f"r{i},{'inf' if i % 5 == 0 else 'NaN' if i % 7 == 0 else i / 3}\n" for i in range(40)),
    "header in two rows": "year,year\nlabel,value\n" + "".join(f"{i},{i * 2}\n" for i in range(10)),
    "semicolon decimal comma": "k;v\n" + "".join(f"r{i};{i},25\n" for i in range(50)),
    "quoted header, plain body": '"id","name"\n' + "".join(f"{i},n{i % 7}\n" for i in range(60)),
    "quoted header, a quoted line break late": '"id","note"\r\n'
    + "".join(f"{i},n{i}\r\n" for i in range(60)) + '61,"two\r\nlines"\r\n62,x\r\n',
    "markers and spaces": "k,v\n" + "".join(f" r{i} , {'NA' if i % 3 else i} \n" for i in range(30)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fast_and_careful_readers_agree(tmp_path, monkeypatch, name):
    path = tmp_path / "f.csv"
    path.write_text(CASES[name])
    careful, careful_result = read_table(path)
    monkeypatch.setattr(pipeline, "ROBUST_MAX_BYTES", -1)
    fast, fast_result = read_table(path)
    assert fast.equals(careful)
    assert fast_result.repairs == careful_result.repairs
    assert [c.kind for c in fast_result.columns] == [c.kind for c in careful_result.columns]


def test_fast_reader_hands_an_oversized_cell_to_the_careful_one(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "ROBUST_MAX_BYTES", -1)
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2\n3,\"" + "z" * 3000 + "\"\n5,6\n")
    with pytest.raises(CellTooLarge) as caught:
        read_table(path, max_cell_bytes=1000)
    assert caught.value.line == 3


@pytest.mark.parametrize("late", ["2.5", "n/a", "x7", "2024-01-01", ""])
def test_a_late_value_that_does_not_fit_the_first_blocks_type(tmp_path, monkeypatch, late):
    """The fast reader types columns from the first block; a later value that does not fit
    makes it read again with inference, so the table is the careful reader's."""
    rows = [f"{i},{i % 97},2024-01-{i % 28 + 1:02d}" for i in range(120_000)]  # past one 1 MB block
    rows[110_000] = f"110000,{late},2024-01-02 10:30"
    path = tmp_path / "f.csv"
    path.write_text("id,n,day\n" + "\n".join(rows) + "\n")
    careful, careful_result = read_table(path)
    monkeypatch.setattr(pipeline, "ROBUST_MAX_BYTES", -1)
    fast, fast_result = read_table(path)
    assert fast.equals(careful)
    assert [c.kind for c in fast_result.columns] == [c.kind for c in careful_result.columns]


@pytest.mark.parametrize("late", [b"7,caf\xe9,1.5\n", b"7,ca\x00f\x07,1.5\n"])  # cp1252; NUL and BEL
def test_a_large_file_is_checked_for_utf8_while_it_is_parsed(tmp_path, monkeypatch, late):
    """Past the first MB (which decided UTF-8) an invalid byte or a control character: the
    check running beside the parse finds it, and the file is transcoded and read again, with
    the answer the checked-first order gave (encoding, cleaned value, warning)."""
    from app.ml.ingest import source

    threads = []
    check = source._clean_utf8
    monkeypatch.setattr(
        source, "_clean_utf8", lambda p: threads.append(threading.current_thread().name) or check(p)
    )
    path = tmp_path / "late.csv"
    body = b"".join(b"%d,name%d,%d.5\n" % (i % 5, i % 7, i) for i in range(70_000))  # ~1.3 MB
    path.write_bytes(b"k,name,v\n" + body + late)
    careful, careful_result = read_table(path)  # small: checked before it is read
    assert threads == ["MainThread"]
    monkeypatch.setattr(pipeline, "ROBUST_MAX_BYTES", -1)
    work = tmp_path / "work"
    work.mkdir()
    deferred, deferred_result = read_table(path, work_dir=str(work))
    assert threads[1] == "utf8-check"
    assert deferred.equals(careful)
    assert deferred.column("name")[-1].as_py() == ("café" if b"\xe9" in late else "caf")
    assert deferred_result.dialect == careful_result.dialect
    assert deferred_result.warnings == careful_result.warnings
    assert not list(work.iterdir())  # the transcoded copy is gone


@pytest.mark.parametrize(
    ("text", "newlines"),
    [
        ('"id","name"\n' + "".join(f"{i},n{i}\n" for i in range(50)), False),
        ('"id","name"\n' + "".join(f"{i},n{i}\n" for i in range(50)) + '51,"a\nb"\n', True),
        ("Report of\nthe day\n\nid,name\n" + "".join(f"{i},n{i}\n" for i in range(50)), False),
        ("id,name\r" + "".join(f"{i},n{i}\r" for i in range(50)), True),  # lone CR: cannot tell
    ],
)
def test_line_breaks_in_values_are_looked_for_only_when_a_quote_follows_the_header(
    tmp_path, monkeypatch, text, newlines
):
    """Without a quote character after the header, pyarrow cuts blocks at line ends (no quote
    lexing): the same table, for less."""
    import pyarrow.csv as pacsv

    seen = []
    real = pacsv.read_csv
    monkeypatch.setattr(
        pacsv, "read_csv", lambda *a, **k: seen.append(a[2].newlines_in_values) or real(*a, **k)
    )
    path = tmp_path / "f.csv"
    path.write_text(text, newline="")
    careful, _ = read_table(path)
    monkeypatch.setattr(pipeline, "ROBUST_MAX_BYTES", -1)
    fast, _ = read_table(path)
    assert fast.equals(careful)
    assert seen and set(seen) == {newlines}


def _plan(quote='"', escape=None, header_lines=1):
    from types import SimpleNamespace

    fmt = SimpleNamespace(quotechar=quote, escapechar=escape)
    return SimpleNamespace(fmt=fmt, skipped_lines=0, header_lines=header_lines)


@pytest.mark.parametrize(("tail", "expected"), [("", False), ('9,"late"\n', True), ("9,a\\,b\n", "escape")])
def test_quote_marks_are_looked_for_in_the_whole_body_but_not_the_header(tmp_path, tail, expected):
    from app.ml.ingest import fast

    path = tmp_path / "f.csv"
    body = "".join(f"{i},n{i}\n" for i in range(300_000))  # past the first MB
    path.write_text('"id","note"\n' + body + tail)
    assert fast._marks_in_body(str(path), _plan()) is bool(expected is True)
    assert fast._marks_in_body(str(path), _plan(escape="\\")) is bool(expected)
    assert fast._marks_in_body(str(path), _plan(header_lines=0)) is True  # the header's quotes


def test_an_empty_file_has_no_marks(tmp_path):
    from app.ml.ingest import fast

    path = tmp_path / "f.csv"
    path.write_bytes(b"")
    assert fast._marks_in_body(str(path), _plan(header_lines=0)) is False


def _spy_open_csv(monkeypatch) -> list:
    import pyarrow.csv as pacsv

    calls = []
    real = pacsv.open_csv
    monkeypatch.setattr(pacsv, "open_csv", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    return calls


def test_the_first_blocks_types_come_from_that_block_alone(tmp_path, monkeypatch):
    """No streaming reader over the whole file (its read-ahead blocks outlived it: ~60 MB on
    the benchmark file, on top of the table)."""
    path = tmp_path / "f.csv"
    path.write_text("id,name,x\n" + "".join(f"{i},n{i % 9},{i / 8}\n" for i in range(150_000)))  # 2.6 MB
    careful, _ = read_table(path, max_cell_bytes=1000)
    calls = _spy_open_csv(monkeypatch)
    monkeypatch.setattr(pipeline, "ROBUST_MAX_BYTES", -1)
    fast, _ = read_table(path, max_cell_bytes=1000)  # 1 MB blocks
    assert fast.equals(careful)
    assert calls == []


def test_a_quoted_line_break_across_the_first_blocks_end(tmp_path, monkeypatch):
    rows = [f"{i},n{i % 9},{i / 8}\n" for i in range(150_000)]
    ends = accumulate((len(row) for row in rows), initial=len("id,name,x\n"))
    at = next(i for i, end in enumerate(ends) if end > (1 << 20) - 8) - 1  # crosses the first MB
    rows[at] = f'{at},"two\nlines",{at / 8}\n'
    path = tmp_path / "f.csv"
    path.write_text("id,name,x\n" + "".join(rows))
    careful, _ = read_table(path, max_cell_bytes=1000)
    calls = _spy_open_csv(monkeypatch)
    monkeypatch.setattr(pipeline, "ROBUST_MAX_BYTES", -1)
    fast, _ = read_table(path, max_cell_bytes=1000)
    assert fast.equals(careful)
    assert careful.column("name")[at].as_py() == "two\nlines"
    assert len(calls) == 1  # the cut row made the block's own parse fail: the whole file's reader
