"""From columns of raw strings to the stored, typed table with its kinds in the metadata."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from app.ml.kinds import classify, clean_strings

from .model import ColumnInfo, IngestWarning

KINDS_KEY = b"csv_analyzer.kinds"


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
                thousands: str | None) -> tuple[pa.Table, list[ColumnInfo], list[IngestWarning]]:
    """Classify each string column, keep its typed values, and record the kinds."""
    arrays, infos, warnings = [], [], []
    for name, raw in zip(names, columns, strict=True):
        cleaned = clean_strings(raw)
        result = classify(cleaned, name, decimal, thousands)
        values = result.values
        if pa.types.is_large_string(values.type):
            values = pc.cast(values, pa.string())
        arrays.append(values)
        present = values.drop_null()
        infos.append(ColumnInfo(
            name=name,
            kind=result.kind,
            missing=values.null_count,
            unique=pc.count_distinct(present).as_py() if len(present) else 0,
            date_format=result.date_format,
        ))
        for code, message in result.warnings:
            warnings.append(IngestWarning(code, f"{name}: {message}", name))
    table = pa.Table.from_arrays(arrays, names=names) if names else pa.table({})
    kinds = {info.name: info.kind for info in infos}
    formats = {info.name: info.date_format for info in infos if info.date_format}
    metadata = {KINDS_KEY: json.dumps(kinds).encode(), b"csv_analyzer.date_formats": json.dumps(formats).encode()}
    return table.replace_schema_metadata(metadata), infos, warnings


def strings_to_arrays(rows: list[list[str]], width: int) -> list[pa.Array]:
    """Column-wise string arrays from a batch of equally wide rows."""
    if not rows:
        return [pa.array([], pa.string()) for _ in range(width)]
    return [pa.array(list(col), pa.string()) for col in zip(*rows, strict=True)]
