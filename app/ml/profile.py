"""Profile of a dataset version: per-column statistics, histograms, top values, correlations, warnings.

Computed from the Parquet file one column at a time, never loading the whole table: number and
date columns are sorted in numpy, which yields all their statistics at once (numeric_profile);
DuckDB scans the string columns (lengths in one scan, exact distinct counts, the most frequent
values of categorical and boolean columns); a chunked numpy pass gives the correlations.
"""

# ruff: noqa: S608 -- SQL text is built only from quoted identifiers (ident) and numbers.
from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from app.ml.explore.dataset_file import (
    Layout,
    duck,
    ident,
    json_value,
    layout,
    schema_layout,
    sql_path,
)
from app.ml.explore.numeric_profile import column_stats, correlations, distinct_sorted
from app.ml.explore.predicates import as_text
from app.ml.explore.profile_warnings import profile_warnings

TOP_VALUES = 10
WORKERS = min(4, os.cpu_count() or 2)
LENGTH_SLICE = 1 << 20
HASH_BATCH = 1 << 20


def profile_dataset(path: str | os.PathLike) -> dict:
    """{n_rows, n_cols, duplicated_rows, columns, correlations, warnings} as API.md's /profile."""
    return _profile(path, layout(path), f"read_parquet({sql_path(path)})", duck(), {})


def profile_table(table: pa.Table, unique: dict[str, int] | None = None,
                  value_counts: dict | None = None, workers: int = WORKERS) -> dict:
    """The same profile from a version still in memory (the ingest's table, kinds in its metadata).

    `unique`: exact distinct counts the caller already has (string columns), not counted again.
    `value_counts`: {column: (distinct non-missing values, their counts)} the typing made for
    string columns; their lengths, distinct count and top values then come from those alone.
    The ingest profiles its table while the Parquet file is written, instead of reading it back,
    with one worker thread: the writer's single thread then has a core to itself.
    """
    con = _TableCursor(table, f"__profile_{uuid.uuid4().hex}")
    try:
        return _profile(table, schema_layout(table.schema, table.num_rows), ident(con.name), con,
                        unique or {}, value_counts or {}, workers)
    finally:
        con.close()


class _TableCursor:
    """A DuckDB cursor with `table` registered as `name`, made on first use: the in-memory
    profile needs DuckDB only to count duplicated rows (and not when a column is an id), and
    a process's first DuckDB instance costs about 30 MB."""

    def __init__(self, table: pa.Table, name: str):
        self.table, self.name, self._con = table, name, None

    def execute(self, *args, **kwargs):
        return self._cursor().execute(*args, **kwargs)

    def sql(self, query: str):
        return self._cursor().sql(query)

    def _cursor(self):
        if self._con is None:
            self._con = duck()
            self._con.register(self.name, self.table)
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.unregister(self.name)
            self._con.close()


def _profile(data, lay: Layout, src: str, con, unique: dict[str, int],
             value_counts: dict | None = None, workers: int = WORKERS) -> dict:
    n_rows = lay.n_rows
    # An id stored as int64 codes is a number to sort and range over, not to correlate.
    numeric = [c for c in lay.columns if lay.is_number(c) and lay.kinds[c] != "id"]
    sorted_kinds = [c for c in lay.columns if lay.is_number(c) or lay.is_temporal(c)]
    # numpy and pyarrow release the GIL: number columns and correlations run beside DuckDB.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        numbers = {c: pool.submit(column_stats, data, lay, c) for c in sorted_kinds}
        corr = pool.submit(correlations, data, numeric)
        if isinstance(data, pa.Table) and all(_arrow_text(lay, c) for c in lay.columns if lay.is_string(c)):
            # in memory: Arrow kernels on each string column, beside the number columns
            strings = {c: pool.submit(_arrow_string_stats, data.column(c), lay.kinds[c], unique.get(c),
                                      (value_counts or {}).get(c))
                       for c in lay.columns if lay.is_string(c)}
            text = {c: f.result() for c, f in strings.items()}
        else:
            text = _text_stats(con, src, lay)
        columns, skews = _columns(con, src, lay, text, {c: f.result() for c, f in numbers.items()},
                                  unique)
        matrix = corr.result()
    result = {
        "n_rows": n_rows,
        "n_cols": len(lay.columns),
        "duplicated_rows": _duplicated_rows(con, src, lay, columns) if n_rows else 0,
        "columns": columns,
        "correlations": {"columns": numeric, "matrix": matrix},
    }
    result["warnings"] = profile_warnings(result, skews)
    return result


def _columns(con, src: str, lay: Layout, text: dict, numbers: dict,
             unique: dict[str, int]) -> tuple[list[dict], dict]:
    """The per-column entries of the profile, and the skewness of number columns."""
    n_rows = lay.n_rows
    columns, skews = [], {}
    for name in lay.columns:
        entry = {"name": name, "kind": lay.kinds[name]}
        if name in numbers:
            s = numbers[name]
            skews[name] = s["skew"]
            entry |= {"missing": n_rows - s["count"], "unique": s["unique"], "stats": s["stats"]}
            if "histogram" in s:
                entry["histogram"] = s["histogram"]
        else:
            count, stats, *counted = text[name]
            entry |= {"missing": n_rows - count, "unique": None, "stats": stats}
            if counted:  # counted in memory by _arrow_string_stats
                entry["unique"] = counted[0]
                if counted[1] is not None:
                    entry["top_values"] = counted[1]
            elif lay.kinds[name] in ("categorical", "boolean"):
                entry["unique"], entry["top_values"] = _unique_and_top(con, src, name)
            elif name in unique:
                entry["unique"] = unique[name]
            else:
                entry["unique"] = con.execute(
                    f"SELECT count(DISTINCT {ident(name)}) FROM {src}"
                ).fetchall()[0][0]
        entry["stats"] = {k: json_value(v) for k, v in entry["stats"].items()}
        columns.append(entry)
    return columns, skews


def _text_stats(con, src: str, lay: Layout) -> dict:
    """{column: (present count, {min_length, max_length, mean_length})} for string columns, one scan."""
    names = [c for c in lay.columns if not (lay.is_number(c) or lay.is_temporal(c))]
    if not names:
        return {}
    parts = []
    for c in names:
        length = f"length({as_text(lay, c)})"
        parts += [f"count({ident(c)})", f"min({length})", f"max({length})", f"avg({length})"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {src}").fetchall()[0]
    return {
        c: (
            row[4 * i],
            {
                "min_length": row[4 * i + 1],
                "max_length": row[4 * i + 2],
                "mean_length": row[4 * i + 3],
            },
        )
        for i, c in enumerate(names)
    }


def _arrow_text(lay: Layout, name: str) -> bool:
    return pa.types.is_string(lay.types[name]) or pa.types.is_large_string(lay.types[name])


def _arrow_string_stats(column: pa.ChunkedArray, kind: str, unique: int | None,
                        value_counts: tuple[pa.Array, pa.Array] | None = None) -> tuple:
    """(present count, length stats, unique, top values or None) of a string column in memory:
    what _text_stats and _unique_and_top give for a file (lengths in characters, top values
    by count then by value in byte order, as DuckDB orders them). `value_counts`: the column's
    distinct non-missing values and their counts, when the caller has them."""
    if value_counts is not None:
        stats = _counted_length_stats(*value_counts)
        unique = len(value_counts[0])
    else:
        stats = _length_stats(column)
    top = None
    if kind in ("categorical", "boolean"):
        if value_counts is not None:
            counts = pa.table({"v": value_counts[0], "c": value_counts[1]})
        else:
            counts = pc.value_counts(column).flatten()
            counts = pa.table({"v": counts[0], "c": counts[1]}).filter(pc.is_valid(counts[0]))
        unique = counts.num_rows
        keys = [("c", "descending"), ("v", "ascending")]
        best = counts.take(pc.select_k_unstable(counts, min(TOP_VALUES, unique), keys)) if unique else counts
        pairs = sorted(zip(best["v"].to_pylist(), best["c"].to_pylist(), strict=True),
                       key=lambda p: (-p[1], str(p[0])))
        top = [{"value": json_value(v), "count": n} for v, n in pairs]
    elif unique is None:
        unique = pc.count_distinct(column, mode="only_valid").as_py()
    return len(column) - column.null_count, stats, unique, top


def _length_stats(column: pa.ChunkedArray) -> dict:
    """Min, max and mean length in characters, LENGTH_SLICE values at a time (the lengths of a
    whole long column would take 4 bytes a row)."""
    low = high = None
    total = present = 0
    for chunk in column.chunks:
        for start in range(0, len(chunk), LENGTH_SLICE):
            lengths = pc.utf8_length(chunk.slice(start, LENGTH_SLICE))
            ends = pc.min_max(lengths)
            if ends["min"].is_valid:
                low = ends["min"].as_py() if low is None else min(low, ends["min"].as_py())
                high = ends["max"].as_py() if high is None else max(high, ends["max"].as_py())
                total += pc.sum(lengths).as_py()
                present += len(lengths) - lengths.null_count
    return {"min_length": low, "max_length": high, "mean_length": total / present if present else None}


def _counted_length_stats(values: pa.Array, counts: pa.Array) -> dict:
    """_length_stats from the distinct values and their counts (the same integer sums)."""
    if not len(values):
        return {"min_length": None, "max_length": None, "mean_length": None}
    lengths = pc.utf8_length(values)
    ends = pc.min_max(lengths)
    total = pc.sum(pc.multiply(pc.cast(lengths, pa.int64()), counts)).as_py()
    return {"min_length": ends["min"].as_py(), "max_length": ends["max"].as_py(),
            "mean_length": total / pc.sum(counts).as_py()}


def _unique_and_top(con, src: str, name: str) -> tuple[int, list[dict]]:
    """Exact distinct count and the most frequent values (ties by value, also at the cut), from
    one GROUP BY."""
    col = ident(name)
    rows = con.execute(
        f"SELECT v, c, count(*) OVER () FROM (SELECT {col} AS v, count(*) AS c FROM {src} "
        # grouped by the column itself: a column named "v" or "c" would capture the aliases
        f"WHERE {col} IS NOT NULL GROUP BY {col}) ORDER BY c DESC, v LIMIT {TOP_VALUES}"
    ).fetchall()
    pairs = sorted(((v, c) for v, c, _ in rows), key=lambda p: (-p[1], str(p[0])))
    return (rows[0][2] if rows else 0), [{"value": json_value(v), "count": n} for v, n in pairs]


def _duplicated_rows(con, src: str, lay: Layout, columns: list[dict]) -> int:
    """Rows equal to an earlier row.

    None when a column is complete and all distinct (an id); otherwise rows are compared on a
    64-bit hash of every column: a false match needs a hash collision (about 1 in 10^7 on a
    million distinct rows), while grouping on the columns themselves costs three times as much.
    A single column that is not a float (whose NaN and infinities the statistics count as
    missing) needs no hash: its rows repeat as its values do, and a missing value once.
    Otherwise DuckDB streams the row hashes, each batch's distinct ones go into one array (its
    pages used only as far as it is filled: a batch of few distinct rows takes little) sorted
    in place at the end. count(DISTINCT hash(...)) in SQL gives the same figure but its hash
    table took about 54 bytes a row (1 GB for 20M distinct rows).
    """
    if any(c["missing"] == 0 and c["unique"] == lay.n_rows for c in columns):
        return 0
    if len(columns) == 1 and not lay.is_float(columns[0]["name"]):
        return lay.n_rows - columns[0]["unique"] - (1 if columns[0]["missing"] else 0)
    cols = ", ".join(ident(c) for c in lay.columns)
    reader = con.sql(f"SELECT hash({cols}) FROM {src}").to_arrow_reader(HASH_BATCH)
    hashes = np.empty(lay.n_rows, dtype=np.uint64)  # untouched pages take no memory
    n = kept = 0
    dedupe = True
    for batch in reader:
        part = batch.column(0).to_numpy(zero_copy_only=False)
        n += len(part)
        if dedupe:
            part = np.unique(part)
            dedupe = len(part) * 2 < batch.num_rows  # mostly distinct rows: not worth a sort each
        hashes[kept : kept + len(part)] = part
        kept += len(part)
    hashes = hashes[:kept]
    hashes.sort()
    return n - distinct_sorted(hashes)
