"""The ingest: upload file in, typed table (and a Parquet file) out, or a refusal.

Detection runs on a sample (the first MB); then the whole file is read either by the careful
Python reader (small files, `, `-separated files, and any file where the fast reader met a
bad row) or by pyarrow's multi-threaded CSV reader with the detected options (large clean
files). Both give columns of strings that `convert` types the same way.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from . import fast
from .cells import looks_numeric
from .convert import build_table, column_names, strings_to_arrays
from .errors import BadOverride, NoDataRows, TooManyBadRows, TooManyColumns
from .layout import Layout, detect_layout, detect_number_format
from .model import Dialect, IngestResult, IngestWarning, Repairs
from .records import RecordStream, Repairer, is_blank, read_body, repair_header
from .sniff import CsvFormat, sniff_format
from .source import SAMPLE, TextSource, open_text

ROBUST_MAX_BYTES = 4 << 20  # files up to this size always take the careful reader
BATCH_ROWS = 65_536
LAYOUT_RECORDS = 400
OVERRIDE_KEYS = {"delimiter", "encoding", "decimal", "header"}
NO_LIMIT = 1 << 62
ROW_GROUP_SIZE = 122_880  # DuckDB's own default, as app.ml.explore.dataset_file writes versions
DICTIONARY_MAX = 20_000  # distinct values: 160 kB of int64s, or short strings, per dictionary
PAGE_SIZE = 16 << 10  # as app.ml.explore.dataset_file.PAGE_SIZE: a sorted page's scattered rows
log = logging.getLogger(__name__)


@dataclass
class _Plan:
    fmt: CsvFormat
    layout: Layout
    header: list[str] | None
    skipped_lines: int
    header_lines: int
    decimal: str
    thousands: str | None
    text_columns: set[int]


def read_table(src_path, overrides: dict | None = None, *, max_bytes: int | None = None,
               max_columns: int = 10_000, max_cell_bytes: int = 1_000_000,
               work_dir: str | None = None, count_unique: bool = True) -> tuple[pa.Table, IngestResult]:
    """Detect, parse and type a CSV upload; returns the table and what was found.

    `count_unique=False` skips the distinct counts of number and date columns (see build_table)
    for callers that only need the typed table, such as batch scoring."""
    return _read_table(src_path, overrides, max_bytes, max_columns, max_cell_bytes, work_dir, count_unique)


def _read_table(src_path, overrides, max_bytes, max_columns, max_cell_bytes, work_dir,
                count_unique: bool, value_counts: dict | None = None) -> tuple[pa.Table, IngestResult]:
    overrides = _check_overrides(overrides or {})
    src_path = os.fspath(src_path)
    # a large file is parsed while a thread checks that all of it is clean UTF-8 (the first MB
    # decided the encoding); in the rare case it is not, it is transcoded and read again
    source = open_text(src_path, max_bytes=max_bytes or NO_LIMIT, encoding=overrides.get("encoding"),
                       work_dir=work_dir, defer_check=_size(src_path) > ROBUST_MAX_BYTES)
    try:
        try:
            read = _read(source, overrides, max_columns, max_cell_bytes, count_unique, value_counts)
        except Exception:
            if source.is_clean():
                raise
            read = None
        if source.is_clean():
            return read
        del read
        if value_counts is not None:
            value_counts.clear()
        pa.default_memory_pool().release_unused()
        source = source.transcoded()
        return _read(source, overrides, max_columns, max_cell_bytes, count_unique, value_counts)
    finally:
        source.cleanup()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # open_text names what is wrong


def ingest_file(src_path, dest_parquet_path, *, overrides: dict | None = None, max_bytes: int,
                max_columns: int = 10_000, max_cell_bytes: int = 1_000_000,
                profile: bool = False) -> IngestResult:
    """Read `src_path` and store it as Parquet at `dest_parquet_path`, atomically.

    The file is written in row groups of ROW_GROUP_SIZE rows with statistics, so DuckDB scans
    a version with every core and skips groups. `profile=True` also computes the version's
    profile (`result.profile`, as app.ml.profile.profile_dataset gives it) from the table in
    memory while the file is written (pyarrow's writer releases the GIL), instead of reading
    the file back; the unique counts of number and date columns then come from the profile.
    """
    dest = os.fspath(dest_parquet_path)
    work_dir = os.path.dirname(os.path.abspath(dest))
    counts: dict | None = {} if profile else None  # string columns' value counts, for the profile
    started = time.perf_counter()
    table, result = _read_table(src_path, overrides, max_bytes, max_columns, max_cell_bytes,
                                work_dir, not profile, counts)
    read_s = time.perf_counter() - started
    fd, tmp = tempfile.mkstemp(prefix=".ingest-", suffix=".parquet", dir=work_dir)
    os.close(fd)
    try:
        dictionary = _dictionary_columns(result)
        if profile:
            with ThreadPoolExecutor(max_workers=1) as pool:
                written = pool.submit(_write_parquet, table, tmp, dictionary)
                try:
                    result.profile = _profile(table, result, counts)
                finally:
                    written.result()
        else:
            _write_parquet(table, tmp, dictionary)
        del table
        os.replace(tmp, dest)
        log.info("ingest: %d rows x %d columns read and typed in %.2f s, stored%s in %.2f s",
                 result.n_rows, result.n_cols, read_s, " and profiled" if profile else "",
                 time.perf_counter() - started - read_s)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        # Arrow's allocator keeps freed pages for reuse: ~235 MB stayed with the worker after a
        # 160 MB upload, and its next upload peaked that much higher
        pa.default_memory_pool().release_unused()
    return result


def _dictionary_columns(result: IngestResult) -> list[str]:
    """Columns worth dictionary encoding: few distinct values (known from the typing). For the
    others the writer would build a dictionary per row group only to drop it once it outgrows
    its page: about a third of the writing time on the benchmark file, for a 2% smaller file."""
    return [c.name for c in result.columns if c.unique is not None and c.unique <= DICTIONARY_MAX]


def _write_parquet(table: pa.Table, path: str, dictionary: list[str]) -> None:
    with open(path, "wb") as fh:
        pq.write_table(table, fh, row_group_size=ROW_GROUP_SIZE, use_dictionary=dictionary,
                       data_page_size=PAGE_SIZE, write_page_index=True)
        fh.flush()
        os.fsync(fh.fileno())


def _profile(table: pa.Table, result: IngestResult, counts: dict | None = None) -> dict:
    """The profile, on one thread beside the writer's: with two, the three shared this machine's
    2 cores and the write, the longer of the two, took 0.75 s instead of 0.6 s (1M x 20 file)."""
    from app.ml.profile import profile_table

    known = {c.name: c.unique for c in result.columns if c.unique is not None}
    profile = profile_table(table, known, counts, workers=1)
    counted = {c["name"]: c["unique"] for c in profile["columns"]}
    for info in result.columns:
        if info.unique is None:
            info.unique = counted[info.name]
    return profile


def _check_overrides(overrides: dict) -> dict:
    unknown = set(overrides) - OVERRIDE_KEYS
    if unknown:
        raise BadOverride(f"unknown setting(s): {', '.join(sorted(unknown))}")
    clean = {k: v for k, v in overrides.items() if v is not None and v != ""}
    delim = clean.get("delimiter")
    if delim is not None:
        delim = {"tab": "\t", "\\t": "\t", "space": " "}.get(delim, delim)
        if len(delim) != 1 or delim in "\r\n\"'":
            raise BadOverride("the delimiter must be a single character such as , ; | or tab")
        clean["delimiter"] = delim
    if clean.get("decimal") not in (None, ".", ","):
        raise BadOverride("the decimal separator must be '.' or ','")
    if "header" in clean and not isinstance(clean["header"], bool):
        value = str(clean["header"]).strip().lower()
        if value not in {"true", "false", "1", "0", "yes", "no"}:
            raise BadOverride("header must be true or false")
        clean["header"] = value in {"true", "1", "yes"}
    return clean


def _read(source: TextSource, overrides: dict, max_columns: int, max_cell: int,
          count_unique: bool = True, value_counts: dict | None = None):
    sample, whole = _sample(source.path)
    if not sample.strip():
        raise NoDataRows()
    _check_first_line(sample, max_columns)
    fmt = sniff_format(sample, overrides.get("delimiter"))
    plan = _plan(sample, whole, fmt, overrides, max_columns, max_cell)
    warnings: list[IngestWarning] = []
    repairs = Repairs()
    notes: dict = {}
    columns = None
    if os.path.getsize(source.path) > ROBUST_MAX_BYTES and not fmt.skipinitialspace:
        columns = fast.read_columns(source.path, plan, max_cell, notes)
        pa.default_memory_pool().release_unused()  # the parser's blocks: keep the peak to the table
    if columns is None:
        repairs, notes = Repairs(), {}
        columns = _read_careful(source.path, plan, max_cell, repairs, notes)
    n_rows = len(columns[0]) if columns else 0
    names, name_warnings = column_names(plan.header, plan.layout.width)
    if n_rows == 0:
        raise NoDataRows(columns=names if plan.header else [])
    total = n_rows + repairs.rows_skipped
    if repairs.rows_skipped > 0.10 * total:
        first = repairs.lines[0] if repairs.lines else None
        raise TooManyBadRows(
            f"{repairs.rows_skipped} of {total} rows cannot be read (first at line {first}); "
            "check the delimiter and quote settings", line=first)
    table, infos, type_warnings = build_table(names, columns, plan.decimal, plan.thousands,
                                              count_unique=count_unique, value_counts=value_counts)
    pa.default_memory_pool().release_unused()  # the raw string columns typing replaced
    warnings += name_warnings + type_warnings + _notes_to_warnings(notes, source, repairs)
    dialect = Dialect(
        encoding=source.encoding, delimiter=fmt.delimiter, quotechar=fmt.quotechar,
        escapechar=fmt.escapechar, decimal=plan.decimal, thousands=plan.thousands,
        header=plan.header is not None, skipped_lines=plan.skipped_lines,
        header_rows=plan.layout.header_rows, skipinitialspace=fmt.skipinitialspace,
    )
    result = IngestResult(table.num_rows, table.num_columns, dialect, infos, warnings, repairs)
    return table, result


def _sample(path: str) -> tuple[str, bool]:
    """The first MB as text, cut after its last complete line; and whether that is all."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        text = fh.read(SAMPLE)
        whole = not fh.read(1)
    if not whole:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[: cut + 1] if cut > 0 else text
    return text, whole


def _check_first_line(sample: str, max_columns: int) -> None:
    """Refuse a too-wide file from its first line alone, before any full parse."""
    first = sample.lstrip("\r\n").split("\n", 1)[0].split("\r", 1)[0]
    delim = max(",;\t|", key=first.count)
    if first.count(delim) + 1 > max_columns:
        width = len(next(csv.reader([first], delimiter=delim), []))
        if width > max_columns:
            raise TooManyColumns(f"the header line has more than {max_columns:,} columns", line=1)


def _plan(sample: str, whole: bool, fmt: CsvFormat, overrides: dict, max_columns: int,
          max_cell: int) -> _Plan:
    stream = RecordStream(iter(io.StringIO(sample, newline="")), fmt, max_cell)
    records, spans = [], []
    for record in stream:
        if len(records) >= LAYOUT_RECORDS:
            break
        if record.fields and not is_blank(record.fields):
            records.append(record.fields)
            spans.append((record.line, record.n_lines))
    if not records:
        raise NoDataRows()
    if max(len(r) for r in records[:3]) > max_columns:
        raise TooManyColumns(f"the file has more than {max_columns:,} columns", line=spans[0][0])
    layout = detect_layout(records, overrides.get("header"))
    if layout.width > max_columns:
        raise TooManyColumns(f"the file has more than {max_columns:,} columns", line=spans[0][0])
    skipped = spans[layout.preamble][0] - 1 if layout.preamble < len(spans) else 0
    header = None
    header_lines = 0
    fixed = _broken_header(sample, records, layout, fmt, overrides.get("header"))
    if fixed is not None:
        header, skipped, header_lines = fixed, 0, 1
        layout.preamble, layout.header_rows = 1, 1
    elif layout.header_rows:
        rows = records[layout.preamble: layout.preamble + layout.header_rows]
        header = [" ".join(c.strip() for c in col if c.strip()) for col in zip(*rows, strict=False)]
        last = spans[layout.preamble + layout.header_rows - 1]
        header_lines = last[0] + last[1] - 1 - skipped
    body = records[layout.preamble + layout.header_rows:]
    decimal, thousands = detect_number_format(body, fmt.delimiter)
    if overrides.get("decimal"):
        decimal = overrides["decimal"]
        thousands = ("." if decimal == "," else ",") if thousands else None
    return _Plan(fmt, layout, header, skipped, header_lines, decimal, thousands,
                 _columns_to_read_as_text(body, layout.width, thousands))


def _broken_header(sample: str, records: list[list[str]], layout: Layout, fmt: CsvFormat,
                   header: bool | None) -> list[str] | None:
    """A first line that reads as a header of the wrong width, before a headerless table."""
    if header is False or layout.preamble != 1 or layout.header_rows or len(records) < 2:
        return None
    first_line = io.StringIO(sample, newline="").readline()
    fixed = repair_header(records[0], first_line, fmt, layout.width)
    if fixed is None:
        return None
    cells = [c.strip() for c in fixed if c.strip()]
    if len(cells) < max(1, layout.width // 2) or any(looks_numeric(c) for c in cells):
        return None
    return fixed


_CODE_LIKE = re.compile(r"^\s*[+-]?(?:0\d+|\d{19,})\s*$")


def _columns_to_read_as_text(body: list[list[str]], width: int, thousands: str | None) -> set[int]:
    """Columns the fast reader must not type itself: zero-padded codes (`007`), integers too
    wide for 64 bits, numbers with thousands separators; `kinds` decides them from strings."""
    out = set()
    for record in body:
        if len(record) != width:
            continue
        for j, cell in enumerate(record):
            if _CODE_LIKE.match(cell) or (thousands and thousands in cell and cell[-1:].isdigit()):
                out.add(j)
    return out


def _lines(path: str) -> Iterator[str]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        yield from fh


def _read_careful(path: str, plan: _Plan, max_cell: int, repairs: Repairs,
                  notes: dict) -> list[pa.ChunkedArray]:
    lines = _lines(path)
    for _ in range(plan.skipped_lines + plan.header_lines):
        next(lines, None)
    stream = RecordStream(lines, plan.fmt, max_cell, first_line=plan.skipped_lines + plan.header_lines + 1)
    width = plan.layout.width
    repairer = Repairer(plan.fmt, width, plan.layout.profile)
    chunks: list[list[pa.Array]] = [[] for _ in range(width)]
    batch: list[list[str]] = []

    def flush() -> None:
        for j, arr in enumerate(strings_to_arrays(batch, width)):
            chunks[j].append(arr)
        batch.clear()

    def sink(fields: list[str]) -> None:
        batch.append(fields)
        if len(batch) >= BATCH_ROWS:
            flush()

    read_body(stream, repairer, plan.header, repairs, sink, notes)
    flush()
    return [pa.chunked_array(c, pa.string()) for c in chunks]


def _notes_to_warnings(notes: dict, source: TextSource, repairs: Repairs) -> list[IngestWarning]:
    out = []
    if source.control_chars_removed:
        out.append(IngestWarning(
            "control_characters", f"{source.control_chars_removed} NUL/control character(s) removed"))
    if notes.get("second_table_line"):
        out.append(IngestWarning(
            "more_tables", f"another table starts at line {notes['second_table_line']}; "
            "only the first table was read"))
    if notes.get("footnote_lines"):
        out.append(IngestWarning("footnotes", f"{notes['footnote_lines']} footnote line(s) at the end ignored"))
    if repairs.rows_repaired or repairs.rows_skipped:
        out.append(IngestWarning(
            "rows_repaired",
            f"{repairs.rows_repaired} row(s) repaired and {repairs.rows_skipped} skipped "
            "because their number of fields did not match the header"))
    return out
