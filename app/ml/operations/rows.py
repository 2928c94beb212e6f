"""Row operations: drop missing, drop duplicates, drop rows by position, filter rows."""

from __future__ import annotations

from app.ml.explore.dataset_file import ident
from app.ml.explore.errors import InvalidQuery
from app.ml.explore.predicates import OPERATORS, VALUELESS, coerce_value, predicate_sql, value_sql
from app.ml.operations import params as P
from app.ml.operations.registry import Context, Plan, invalid, register

MAX_ROW_NUMBERS = 100_000


def _columns_optional(params, lay):
    P.only(params, {"columns"})
    return {"columns": P.columns(params, lay, optional=True)}


@register("drop_missing", _columns_optional)
def drop_missing(ctx: Context, p: dict) -> Plan:
    """Drop the rows missing a value in any of the columns (all columns by default)."""
    plan = Plan.keep_all(ctx.layout)
    plan.where = " AND ".join(f"{value_sql(ctx.layout, c)} IS NOT NULL" for c in p["columns"])
    return plan


@register("drop_duplicates", _columns_optional)
def drop_duplicates(ctx: Context, p: dict) -> Plan:
    """Keep the first of rows equal on the columns (all columns by default)."""
    plan = Plan.keep_all(ctx.layout)
    keys = ", ".join(ident(c) for c in p["columns"])
    plan.qualify = f"row_number() OVER (PARTITION BY {keys} ORDER BY __row) = 1"
    return plan


def _drop_rows_params(params, lay):
    P.only(params, {"row_numbers"}, {"row_numbers"})
    rows = params["row_numbers"]
    if (
        not isinstance(rows, list)
        or not rows
        or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in rows)
    ):
        raise invalid("row_numbers", "Give a non-empty list of row numbers (0 or more).")
    if len(rows) > MAX_ROW_NUMBERS:
        raise invalid("row_numbers", f"At most {MAX_ROW_NUMBERS:,} rows at once; use filter_rows.")
    return {"row_numbers": sorted(set(rows))}


@register("drop_rows", _drop_rows_params)
def drop_rows(ctx: Context, p: dict) -> Plan:
    """Drop rows by their 0-based position in this version (as the table numbers them)."""
    rows = p["row_numbers"]
    if rows[-1] >= ctx.layout.n_rows:
        raise invalid(
            "row_numbers",
            f"Row {rows[-1]} does not exist; this version has "
            f"{ctx.layout.n_rows:,} rows (numbered from 0).",
        )
    plan = Plan.keep_all(ctx.layout)
    plan.where = "__row NOT IN (SELECT unnest(?::BIGINT[]))"
    plan.where_params = [rows]
    return plan


def _filter_params(params, lay):
    P.only(params, {"column", "operator", "value"}, {"column", "operator"})
    name = P.column(params, lay)
    op = P.choice(params, "operator", OPERATORS)
    if op in VALUELESS and params.get("value") is not None:
        raise invalid("value", f"The operator {op} takes no value.")
    try:
        value = coerce_value(lay, name, op, params.get("value"))
    except InvalidQuery as err:
        raise invalid("value", err.message) from None
    return {"column": name, "operator": op, "value": value}


@register("filter_rows", _filter_params)
def filter_rows(ctx: Context, p: dict) -> Plan:
    """Keep the rows matching the condition (same meaning as the table's filters)."""
    cond, args = predicate_sql(ctx.layout, p["column"], p["operator"], p["value"])
    plan = Plan.keep_all(ctx.layout)
    plan.where, plan.where_params = cond, args
    return plan
