"""Run an operation: validate, plan against the old version, then write, preview or summarise.

Everything streams through DuckDB: the new version is written by COPY straight from the plan's
SELECT (never held in Python memory) and a preview reads only the counts and the first rows.
"""

# ruff: noqa: S608 -- SQL text is built only from quoted identifiers; values are bound parameters.
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from app.ml.explore.dataset_file import (
    KINDS_KEY,
    ROW_GROUP_SIZE,
    Layout,
    duck,
    ident,
    json_value,
    layout,
    sql_path,
)
from app.ml.explore.errors import InvalidOperation
from app.ml.operations.registry import REGISTRY, Context, Plan

PREVIEW_ROWS = 20
_SQL_TYPES = {"integer": "BIGINT", "float": "DOUBLE"}  # datetimes keep their timestamp type


def validate_operation(op: str, params: dict, columns_and_kinds: dict | Layout) -> dict:
    """Check an operation against the columns alone; return its normalised parameters.

    Given {column: kind}, storage types are assumed from the kinds (ingest's rule); given a
    version's Layout, its real types are used (an `id` may be stored as int64)."""
    lay = columns_and_kinds
    if not isinstance(lay, Layout):
        lay = Layout.from_kinds(dict(columns_and_kinds))
    spec = REGISTRY.get(op)
    if spec is None:
        raise InvalidOperation(
            f"Unknown operation {op!r}.",
            {"op": [f"Must be one of: {', '.join(sorted(REGISTRY))}."]},
        )
    return spec.validate(params if params is not None else {}, lay)


def apply_operation(src_path, dest_path, op: str, params: dict) -> dict:
    """Write the new version to dest_path atomically (temporary file, fsync, rename, fsync of the
    directory); return {n_rows, n_cols, columns: [{name, kind, missing, unique}]}."""
    con = duck()
    _, plan, sql, args = _planned(con, src_path, op, params)
    dest = Path(dest_path)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        kinds = json.dumps(plan.kinds).replace("'", "''")
        select = ", ".join(ident(name) for name, _, _ in plan.columns)
        con.execute(
            f"COPY (SELECT {select} FROM ({sql})) TO {sql_path(tmp)} (FORMAT parquet, "
            f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}, KV_METADATA {{'{KINDS_KEY.decode()}': '{kinds}'}})",
            args,
        )
        _fsync(tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync(dest.parent)
    return summarise(dest)


def preview_operation(src_path, op: str, params: dict) -> dict:
    """{columns, rows (first 20 after, each with "_row", its position before), rows_before,
    rows_after, cells_changed}. cells_changed counts the cells of kept rows and kept columns
    whose value differs afterwards; dropped rows and columns show in the row and column counts."""
    con = duck()
    lay, plan, sql, args = _planned(con, src_path, op, params)
    names = [name for name, _, _ in plan.columns]
    rows_after = con.execute(f"SELECT count(*) FROM ({sql})", args).fetchall()[0][0]
    first = con.execute(f"{sql} LIMIT {PREVIEW_ROWS}", args).fetchall()
    return {
        "columns": names,
        "rows": [
            {**{n: json_value(v) for n, v in zip(names, row[1:], strict=True)}, "_row": row[0]}
            for row in first
        ],
        "rows_before": lay.n_rows,
        "rows_after": rows_after,
        "cells_changed": _cells_changed(con, lay, plan),
    }


def summarise(path) -> dict:
    """{n_rows, n_cols, columns: [{name, kind, missing, unique}]} of a version, exact unique counts
    (NaN and infinities count as missing). One query per column: DuckDB runs a lone distinct
    count in parallel, several in one query it does not."""
    lay = layout(path)
    con = duck()
    src = f"read_parquet({sql_path(path)})"
    columns = []
    for name in lay.columns:
        col = ident(name)
        value = f"(CASE WHEN isfinite({col}) THEN {col} END)" if lay.is_float(name) else col
        missing, unique = con.execute(
            f"SELECT count(*) - count({value}), count(DISTINCT {value}) FROM {src}"
        ).fetchall()[0]
        columns.append(
            {"name": name, "kind": lay.kinds[name], "missing": missing, "unique": unique}
        )
    return {"n_rows": lay.n_rows, "n_cols": len(lay.columns), "columns": columns}


def _planned(con, src_path, op: str, params: dict) -> tuple[Layout, Plan, str, list]:
    """(old layout, plan, SELECT __row and the new columns in row order, its parameters)."""
    lay = layout(src_path)
    normalised = validate_operation(op, params, lay)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW src AS SELECT * EXCLUDE (file_row_number), "
        f"file_row_number AS __row FROM read_parquet({sql_path(src_path)}, file_row_number = true)"
    )
    plan = REGISTRY[op].plan(Context(con, lay), normalised)
    select = ", ".join(
        f"{_typed(lay, plan, name, expr, origin)} AS {ident(name)}"
        for name, expr, origin in plan.columns
    )
    sql = f"SELECT __row, {select} FROM src"
    if plan.where:
        sql += f" WHERE {plan.where}"
    if plan.qualify:
        sql += f" QUALIFY {plan.qualify}"
    # Always sort: DuckDB may run a long IN list (as in cast) or an anti-join as a hash join,
    # which returns rows in any order; without ORDER BY a new version could shuffle rows.
    sql += " ORDER BY __row"
    return lay, plan, sql, plan.select_params + plan.where_params


def _typed(lay: Layout, plan: Plan, name: str, expr: str, origin: str | None) -> str:
    """Store what ingest stores: a column keeping its kind keeps its storage type; a new kind
    is stored as int64, float64, timestamps, or strings for the text-like kinds."""
    if origin is not None and plan.kinds[name] == lay.kinds[origin]:
        if expr == ident(origin):
            return expr
        sql_type = lay.sql_type(origin)
    else:
        sql_type = (
            None if plan.kinds[name] == "datetime" else _SQL_TYPES.get(plan.kinds[name], "VARCHAR")
        )
    return expr if sql_type is None else f"CAST({expr} AS {sql_type})"


def _cells_changed(con, lay: Layout, plan: Plan) -> int:
    """Cells of kept rows whose value an expression changes (renames and row filters change none)."""
    changed = [(n, e, o) for n, e, o in plan.columns if o is not None and e != ident(o)]
    if not changed:
        return 0
    diffs = " + ".join(
        f"count(*) FILTER (WHERE {_comparable(e, lay.kinds[o], plan.kinds[n])} "
        f"IS DISTINCT FROM {_comparable(ident(o), lay.kinds[o], plan.kinds[n])})"
        for n, e, o in changed
    )
    params = [p for n, _, _ in changed for p in plan.column_params.get(n, [])]
    sql = f"SELECT {diffs} FROM src"
    if plan.where:
        sql += f" WHERE {plan.where}"
        params += plan.where_params
    return int(con.execute(sql, params).fetchall()[0][0] or 0)


def _comparable(expr: str, old: str, new: str) -> str:
    """Compare as numbers when both kinds are numbers, as text when the kind changed."""
    if old == new:
        return expr
    if {old, new} <= {"integer", "float"}:
        return f"CAST({expr} AS DOUBLE)"
    return f"CAST({expr} AS VARCHAR)"


def _fsync(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
