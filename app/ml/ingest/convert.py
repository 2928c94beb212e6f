"""From columns of raw strings to the stored, typed table with its kinds in the metadata."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc

from app.ml.kinds import MISSING_MARKERS, classify, classify_typed, clean_strings

from .model import ColumnInfo, IngestWarning

MISSING = frozenset(MISSING_MARKERS)

KINDS_KEY = b"csv_analyzer.kinds"
DATE_FORMATS_KEY = b"csv_analyzer.date_formats"


def column_names(header: list[str] | None, width: int) -> tuple[list[str], list[IngestWarning]]:
    """Header cells made usable: trimmed, empty ones named, duplicates numbered."""
    warnings: list[IngestWarning] = []
    if header is None:
        return [f"column_{i + 1}" for i in range(width)], warnings
    names: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(list(header) + [""] * (width - len(header))):
        name = " ".join(raw.split())
        if not name:
            name = f"column_{i + 1}"
            warnings.append(IngestWarning(
                "empty_header", f"column {i + 1} has no name; called it {name}", name))
        if name in seen:
            base, k = name, 2
            while f"{base}_{k}" in seen:
                k += 1
            name = f"{base}_{k}"
            warnings.append(IngestWarning(
                "duplicate_header", f"column name {base!r} repeats; renamed to {name!r}", name))
        seen.add(name)
        names.append(name)
    return names, warnings


def build_table(names: list[str], columns: list[pa.ChunkedArray], decimal: str,
                thousands: str | None, *, count_unique: bool = True,
                value_counts: dict | None = None,
                ) -> tuple[pa.Table, list[ColumnInfo], list[IngestWarning]]:
    """Classify each string column, keep its typed values, and record the kinds.

    Columns are typed in parallel threads (Arrow kernels release the GIL); each raw column is
    dropped as soon as its typed version exists, which keeps the peak memory near one copy.
    `count_unique=False` leaves `unique` None for number and date columns whose kind did not
    need the count (the profile counts them exactly, from its sorted copy, for less).
    `value_counts`, a dict, receives {name: (distinct values, counts)} of the string columns
    whose typing counted them (few distinct values), for the profile to reuse.
    """
    def one(i: int):
        raw, columns[i] = columns[i], None
        result = classify_typed(raw, names[i])
        if result is None:
            result = classify(clean_strings(raw, markers_nulled=True), names[i], decimal, thousands)
        del raw
        if value_counts is not None and result.counts is not None:
            value_counts[names[i]] = result.counts
        values = result.values
        unique = result.distinct
        if unique is None and (count_unique or not _sortable(values.type)):
            unique = pc.count_distinct(values, mode="only_valid").as_py()
        info = ColumnInfo(
            name=names[i], kind=result.kind, missing=values.null_count, unique=unique,
            date_format=result.date_format,
        )
        warns = [IngestWarning(code, f"{names[i]}: {msg}", names[i]) for code, msg in result.warnings]
        return values, info, warns

    workers = min(len(names), os.cpu_count() or 1, 4) or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = list(pool.map(one, range(len(names))))
    arrays = [d[0] for d in done]
    infos = [d[1] for d in done]
    warnings = [w for d in done for w in d[2]]
    table = pa.Table.from_arrays(arrays, names=names) if names else pa.table({})
    kinds = {info.name: info.kind for info in infos}
    formats = {info.name: info.date_format for info in infos if info.date_format}
    metadata = {KINDS_KEY: json.dumps(kinds).encode(), DATE_FORMATS_KEY: json.dumps(formats).encode()}
    return table.replace_schema_metadata(metadata), infos, warnings


def _sortable(typ: pa.DataType) -> bool:
    return (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_timestamp(typ)
            or pa.types.is_date(typ))


def strings_to_arrays(rows: list[list[str]], width: int) -> list[pa.Array]:
    """Column-wise string arrays from a batch of equally wide rows."""
    if not rows:
        return [pa.array([], pa.string()) for _ in range(width)]
    return [
        pa.array([None if v in MISSING else v for v in col], pa.string())
        for col in zip(*rows, strict=True)
    ]
