"""Run an operation: validate, plan against the old version, then write, preview or summarise."""

# ruff: noqa: S608 -- SQL text is built only from quoted identifiers; values are bound parameters.
from __future__ import annotations

import pyarrow as pa

from app.ml.explore.dataset_file import (
    Layout,
    duck,
    ident,
    json_value,
    layout,
    sql_path,
    write_version,
)
from app.ml.explore.errors import InvalidOperation
from app.ml.operations.registry import REGISTRY, Context, Plan, invalid

PREVIEW_ROWS = 20
_ARROW_TYPES = {"integer": pa.int64(), "float": pa.float64()}


def validate_operation(op: str, params: dict, columns_and_kinds: dict) -> dict:
    """Check an operation against the columns alone; return its normalised parameters."""
    spec = REGISTRY.get(op)
    if spec is None:
        raise InvalidOperation(
            f"Unknown operation {op!r}.",
            {"op": [f"Must be one of: {', '.join(sorted(REGISTRY))}."]},
        )
    return spec.validate(params if params is not None else {}, dict(columns_and_kinds))


def _planned(con, src_path, op: str, params: dict) -> tuple[Layout, Plan, str, list]:
    lay = layout(src_path)
    normalised = validate_operation(op, params, lay.kinds)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW src AS SELECT * EXCLUDE (file_row_number), "
        f"file_row_number AS __row FROM read_parquet({sql_path(src_path)}, file_row_number = true)"
    )
    plan = REGISTRY[op].plan(Context(con, lay), normalised)
    select = ", ".join(f"{expr} AS {ident(name)}" for name, expr, _ in plan.columns)
    sql = f"SELECT __row, {select} FROM src"
    if plan.where:
        sql += f" WHERE {plan.where}"
    if plan.qualify:
        sql += f" QUALIFY {plan.qualify}"
    sql += " ORDER BY __row"
    return lay, plan, sql, plan.select_params + plan.where_params


def apply_operation(src_path, dest_path, op: str, params: dict) -> dict:
    """Write the new version to dest_path atomically; {n_rows, n_cols, columns: [{name, kind, missing, unique}]}."""
    con = duck()
    _, plan, sql, args = _planned(con, src_path, op, params)
    table = con.sql(sql, params=args).to_arrow_table().drop_columns(["__row"])
    table = _normalise_types(table, plan.kinds)
    write_version(table, plan.kinds, dest_path)
    return summarise(con, table, plan.kinds)


def preview_operation(src_path, op: str, params: dict) -> dict:
    """{columns, rows (first 20 after, each with "_row", its position before), rows_before,
    rows_after, cells_changed}. cells_changed counts the cells of kept rows and kept columns
    whose value differs afterwards; dropped rows and columns show in the row and column counts."""
    con = duck()
    lay, plan, sql, args = _planned(con, src_path, op, params)
    con.execute(f"CREATE OR REPLACE TEMP TABLE __after AS {sql}", args)
    names = [name for name, _, _ in plan.columns]
    rows_after = con.execute("SELECT count(*) FROM __after").fetchall()[0][0]
    first = con.execute(f"SELECT * FROM __after ORDER BY __row LIMIT {PREVIEW_ROWS}").fetchall()
    compared = [(name, origin) for name, _, origin in plan.columns if origin is not None]
    changed = 0
    if compared and rows_after:
        diffs = " + ".join(
            f"count(*) FILTER (WHERE {_comparable(lay, plan, 'a', n, o)} IS DISTINCT FROM "
            f"{_comparable(lay, plan, 'b', n, o, before=True)})"
            for n, o in compared
        )
        changed = con.execute(f"SELECT {diffs} FROM __after a JOIN src b USING (__row)").fetchall()[
            0
        ][0]
    con.execute("DROP TABLE __after")
    return {
        "columns": names,
        "rows": [
            {**{n: json_value(v) for n, v in zip(names, row[1:], strict=True)}, "_row": row[0]}
            for row in first
        ],
        "rows_before": lay.n_rows,
        "rows_after": rows_after,
        "cells_changed": int(changed or 0),
    }


def summarise(con, table: pa.Table, kinds: dict[str, str]) -> dict:
    """{n_rows, n_cols, columns: [{name, kind, missing, unique}]} with exact unique counts."""
    columns = []
    con.register("__new", table)
    for name in table.column_names:
        col = ident(name)
        value = f"(CASE WHEN isfinite({col}) THEN {col} END)" if kinds[name] == "float" else col
        missing, unique = con.execute(
            f"SELECT count(*) - count({value}), count(DISTINCT {value}) FROM __new"
        ).fetchall()[0]
        columns.append({"name": name, "kind": kinds[name], "missing": missing, "unique": unique})
    con.unregister("__new")
    return {"n_rows": table.num_rows, "n_cols": table.num_columns, "columns": columns}


def _comparable(lay: Layout, plan: Plan, alias: str, name: str, origin: str, before=False) -> str:
    """Compare as numbers when both sides are numbers, else as text when the kind changed."""
    col = f"{alias}.{ident(origin if before else name)}"
    old, new = lay.kinds[origin], plan.kinds[name]
    if old == new:
        return col
    if {old, new} <= {"integer", "float"}:
        return f"CAST({col} AS DOUBLE)"
    return f"CAST({col} AS VARCHAR)"


def _normalise_types(table: pa.Table, kinds: dict[str, str]) -> pa.Table:
    """Store what ingest stores: int64, float64, timestamps, plain strings for everything else."""
    fields = []
    for f in table.schema:
        kind = kinds[f.name]
        if kind in _ARROW_TYPES:
            fields.append(pa.field(f.name, _ARROW_TYPES[kind]))
        elif kind == "datetime":
            fields.append(
                f if pa.types.is_timestamp(f.type) else pa.field(f.name, pa.timestamp("us"))
            )
        else:
            fields.append(pa.field(f.name, pa.string()))
    return table.cast(pa.schema(fields))


__all__ = ["apply_operation", "invalid", "preview_operation", "summarise", "validate_operation"]
