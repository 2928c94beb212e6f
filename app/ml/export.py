"""Downloads of a dataset version: CSV that is safe to open in a spreadsheet, or the Parquet file.

The CSV is UTF-8, comma-separated, header first. A text cell (or header name) beginning with
=, +, -, @, tab or CR gets a leading ' so a spreadsheet shows it instead of running it as a
formula; number columns are never touched, so -5 stays -5. Rows stream batch by batch.
"""

from __future__ import annotations

import csv
import io
import os
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from app.ml.explore.dataset_file import layout

FORMULA_START = r"^[=+\-@\t\r]"
BATCH_ROWS = 65_536


def export_csv(path: str | os.PathLike, out_fileobj) -> int:
    """Write the version as CSV to a binary (or text) file object; return the cells escaped."""
    lay = layout(path)
    return write_csv(lay.columns, pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS), out_fileobj)


def write_table_csv(table: pa.Table, out_fileobj) -> int:
    """Any Arrow table as formula-safe CSV (batch predictions use it); the cells escaped."""
    return write_csv(table.column_names, table.to_batches(max_chunksize=BATCH_ROWS), out_fileobj)


def write_csv(column_names, batches, out_fileobj) -> int:
    """Header, then record batches, as formula-safe CSV; returns the number of cells escaped."""
    write = _writer(out_fileobj)
    header = io.StringIO()
    names = [_escape_name(n) for n in column_names]
    csv.writer(header, lineterminator="\n").writerow(names)
    write(header.getvalue().encode("utf-8"))
    escaped = sum(n != o for n, o in zip(names, column_names, strict=True))
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for batch in batches:
        columns = []
        for column in batch.columns:
            ready, n = _csv_ready(column)
            escaped += n
            columns.append(ready)
        buf = io.BytesIO()
        pacsv.write_csv(pa.RecordBatch.from_arrays(columns, names=batch.schema.names), buf, options)
        write(buf.getvalue())
    return escaped


def export_parquet(path: str | os.PathLike, out_fileobj) -> None:
    """Copy the version's Parquet file as it is (kinds metadata included)."""
    layout(path)  # a clear DatasetFileMissing rather than FileNotFoundError
    with open(path, "rb") as src:
        shutil.copyfileobj(src, out_fileobj, 1024 * 1024)


def _csv_ready(column: pa.Array) -> tuple[pa.Array, int]:
    """(column as CSV should show it, number of cells escaped)."""
    t = column.type
    if pa.types.is_floating(t):  # NaN and infinities are missing values, written empty
        return pc.if_else(pc.is_finite(column), column, pa.scalar(None, t)), 0
    if pa.types.is_timestamp(t):
        text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
        return pc.replace_substring_regex(text, pattern=r"\.0+$", replacement=""), 0
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        risky = pc.fill_null(pc.match_substring_regex(column, FORMULA_START), False)
        n = pc.sum(risky).as_py() or 0
        if n:
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        return column, n
    return column, 0


def _escape_name(name: str) -> str:
    return "'" + name if name[:1] in ("=", "+", "-", "@", "\t", "\r") else name


def _writer(out_fileobj):
    if isinstance(out_fileobj, io.TextIOBase):
        return lambda data: out_fileobj.write(data.decode("utf-8"))
    return out_fileobj.write
