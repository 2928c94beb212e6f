"""Files that must be refused with an exact status, leaving nothing behind."""

from __future__ import annotations

import gzip
import io
import os
import stat
import zipfile

import pytest

from app.ml.ingest import (
    BadArchive,
    CellTooLarge,
    IngestError,
    NoDataRows,
    NotText,
    TooLarge,
    TooManyBadRows,
    TooManyColumns,
    ingest_file,
)

MB = 1 << 20


def _zip(members: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


CSV = b"a,b\n1,2\n3,4\n"
REFUSED = [
    ("empty", b"", {}, NoDataRows, 422),
    ("whitespace only", b"  \n\r\n\t \n", {}, NoDataRows, 422),
    ("header only", b"name,age,city\n", {}, NoDataRows, 422),
    ("header only crlf", b"name;age;city\r\n\r\n", {}, NoDataRows, 422),
    ("png", b"\x89PNG\r\n\x1a\n" + os.urandom(200), {}, NotText, 415),
    ("jpeg", b"\xff\xd8\xff\xe0" + os.urandom(200), {}, NotText, 415),
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", {}, NotText, 415),
    ("elf", b"\x7fELF\x02\x01\x01" + bytes(200), {}, NotText, 415),
    ("random binary", bytes(range(256)) * 8, {}, NotText, 415),
    ("gzipped png", gzip.compress(b"\x89PNG\r\n\x1a\n" + bytes(100)), {}, NotText, 415),
    ("too large", b"a,b\n" + b"1,2\n" * 300_000, {"max_bytes": MB}, TooLarge, 413),
    ("gzip bomb", gzip.compress(b"a,b\n" + b"1,2\n" * 2_000_000), {"max_bytes": MB}, TooLarge, 413),
    ("zip bomb", _zip({"big.csv": b"a,b\n" + b"1,2\n" * 2_000_000}), {"max_bytes": MB}, TooLarge, 413),
    ("zip with two members", _zip({"a.csv": CSV, "b.csv": CSV}), {}, BadArchive, 422),
    ("zip with parent path", _zip({"../evil.csv": CSV}), {}, BadArchive, 422),
    ("zip with symlink", _zip({"a.csv": CSV}, symlink="link.csv"), {}, BadArchive, 422),
    ("empty zip", _zip({}), {}, BadArchive, 422),
    ("too many columns", (",".join(f"c{i}" for i in range(12)) + "\n" + ",".join("1" * 12) + "\n").encode(),
     {"max_columns": 10}, TooManyColumns, 422),
    ("cell too large", b"a,b\n1,2\n3,\"" + b"x" * 5000 + b"\n4,5\n", {"max_cell_bytes": 1000}, CellTooLarge, 422),
    ("mostly unreadable rows", b"a,b,c\n1,2,3\n" + b"x\n4,5,6\nfoo bar baz qux\n" * 20, {}, TooManyBadRows, 422),
]


@pytest.mark.parametrize(("label", "data", "limits", "error", "status"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_with_exact_status_and_nothing_written(tmp_path, label, data, limits, error, status):
    src = tmp_path / "upload.csv"
    src.write_bytes(data)
    out = tmp_path / "store"
    out.mkdir()
    kwargs = {"max_bytes": 50 * MB, **limits}
    with pytest.raises(error) as caught:
        ingest_file(src, out / "v1.parquet", **kwargs)
    assert isinstance(caught.value, IngestError)
    assert caught.value.status == status
    assert caught.value.message
    assert list(out.iterdir()) == []  # no parquet, no temporary left behind


def test_cell_too_large_names_its_line(tmp_path):
    src = tmp_path / "u.csv"
    src.write_bytes(b"a,b\n1,2\n3,4\n5,\"" + b"y" * 3000 + b"\n6,7\n")
    with pytest.raises(CellTooLarge) as caught:
        ingest_file(src, tmp_path / "o.parquet", max_bytes=MB, max_cell_bytes=1000)
    assert caught.value.line == 4
    assert "line 4" in caught.value.message


def test_too_many_bad_rows_names_the_first_bad_line(tmp_path):
    src = tmp_path / "u.csv"
    src.write_bytes(b"a,b,c\n1,2,3\n4,5,6\nzzz\n" + b"7,8,9\nqqq\n" * 5)
    with pytest.raises(TooManyBadRows) as caught:
        ingest_file(src, tmp_path / "o.parquet", max_bytes=MB)
    assert caught.value.line == 4


def test_too_many_columns_is_checked_on_the_header_line(tmp_path):
    header = ",".join(f"c{i}" for i in range(10_001))
    src = tmp_path / "wide.csv"
    src.write_text(header + "\n" + "1," * 10_000 + "1\n")
    with pytest.raises(TooManyColumns) as caught:
        ingest_file(src, tmp_path / "o.parquet", max_bytes=50 * MB)
    assert caught.value.status == 422


def test_a_failed_reingest_keeps_the_previous_file(tmp_path):
    dest = tmp_path / "v1.parquet"
    src = tmp_path / "ok.csv"
    src.write_bytes(CSV)
    ingest_file(src, dest, max_bytes=MB)
    before = dest.read_bytes()
    src.write_bytes(b"")
    with pytest.raises(NoDataRows):
        ingest_file(src, dest, max_bytes=MB)
    assert dest.read_bytes() == before
