"""Column operations: drop, rename, cast, parse dates."""

# ruff: noqa: S608 -- SQL text is built only from quoted identifiers (ident) and fixed fragments.
from __future__ import annotations

from app.ml.explore.dataset_file import ident
from app.ml.operations import casts
from app.ml.operations import params as P
from app.ml.operations.dates import date_expr, pick_format
from app.ml.operations.registry import Context, Plan, invalid, register

CAST_TARGETS = ("integer", "float", "boolean", "categorical", "text", "datetime")
MAX_NAME = 200


def _drop_columns_params(params, lay):
    P.only(params, {"columns"}, {"columns"})
    names = P.columns(params, lay)
    if len(names) == len(lay.columns):
        raise invalid("columns", "A dataset needs at least one column; you cannot drop them all.")
    return {"columns": names}


@register("drop_columns", _drop_columns_params)
def drop_columns(ctx: Context, p: dict) -> Plan:
    plan = Plan.keep_all(ctx.layout)
    plan.columns = [c for c in plan.columns if c[0] not in p["columns"]]
    plan.kinds = {c[0]: plan.kinds[c[0]] for c in plan.columns}
    return plan


def _rename_params(params, lay):
    kinds = lay.kinds
    P.only(params, {"mapping"}, {"mapping"})
    mapping = params["mapping"]
    if not isinstance(mapping, dict) or not mapping:
        raise invalid("mapping", "Give an object {old name: new name}.")
    for old, new in mapping.items():
        if old not in kinds:
            raise invalid("mapping", f"Unknown column {old!r}.")
        if not isinstance(new, str) or not new.strip():
            raise invalid("mapping", f"The new name of {old!r} must be a non-empty text.")
        if new == "__row":
            raise invalid("mapping", "The name __row is reserved.")
        if len(new) > MAX_NAME or any(ord(ch) < 32 for ch in new):
            raise invalid(
                "mapping", f"The new name of {old!r} is too long or holds control characters."
            )
    final = [mapping.get(c, c) for c in kinds]
    clashes = sorted({n for n in final if final.count(n) > 1})
    if clashes:
        raise invalid("mapping", f"Two columns would be called {clashes[0]!r}.")
    return {"mapping": dict(mapping)}


@register("rename_columns", _rename_params)
def rename_columns(ctx: Context, p: dict) -> Plan:
    m = p["mapping"]
    plan = Plan.keep_all(ctx.layout)
    plan.columns = [(m.get(n, n), e, o) for n, e, o in plan.columns]
    plan.kinds = {m.get(n, n): k for n, k in ctx.layout.kinds.items()}
    return plan


def _cast_params(params, lay):
    P.only(params, {"column", "to", "on_invalid"}, {"column", "to"})
    name = P.column(params, lay)
    to = P.choice(params, "to", CAST_TARGETS)
    if lay.is_temporal(name) and to in ("integer", "float", "boolean"):
        raise invalid(
            "to", f"Dates cannot become {to} values; cast to text or extract parts instead."
        )
    if lay.is_float(name) and to == "datetime":
        raise invalid("to", "Decimal numbers cannot be read as dates.")
    return {"column": name, "to": to, "on_invalid": P.on_invalid(params)}


@register("cast", _cast_params)
def cast(ctx: Context, p: dict) -> Plan:
    """Convert a column's values to another kind.

    A present value that would not convert (text in a number column, 3.5 to integer, "maybe"
    to boolean) refuses the whole operation by default, naming how many and the first one; with
    on_invalid="missing" such values become missing instead. Text-like kinds keep the spelling.
    """
    lay, name, to = ctx.layout, p["column"], p["to"]
    plan = Plan.keep_all(lay)
    plan.kinds[name] = to
    if to in ("categorical", "text"):
        plan.replace(name, casts.to_text(lay, name))
        return plan
    if to == "datetime":
        expr = casts.to_datetime(ctx.con, lay, name)
    elif to == "boolean":
        expr = casts.to_boolean(lay, name)
    else:
        words = lay.kinds[name] == "boolean" or (
            not lay.is_number(name) and _all_boolean_words(ctx, ident(name))
        )
        expr = casts.to_number(lay, name, to, words)
    _check_convertible(ctx, name, expr, to, p["on_invalid"], "to")
    plan.replace(name, expr)
    return plan


def _parse_dates_params(params, lay):
    P.only(params, {"column", "format", "on_invalid"}, {"column"})
    name = P.column(params, lay)
    if lay.is_temporal(name):
        raise invalid("column", f"Column {name!r} already holds dates.")
    if lay.is_float(name):
        raise invalid("column", "Decimal numbers cannot be read as dates.")
    fmt = params.get("format")
    if fmt is not None and (not isinstance(fmt, str) or "%" not in fmt):
        raise invalid("format", "Give a strptime format such as %d/%m/%Y.")
    return {"column": name, "format": fmt, "on_invalid": P.on_invalid(params)}


@register("parse_dates", _parse_dates_params)
def parse_dates(ctx: Context, p: dict) -> Plan:
    """Read a text column as dates, with the given strptime format or the one that fits all values."""
    name = p["column"]
    text = f"CAST({ident(name)} AS VARCHAR)"
    fmt = p["format"] or pick_format(ctx.con, text, name)
    expr = date_expr(text, fmt)
    _check_convertible(ctx, name, expr, "datetime", p["on_invalid"], "format")
    plan = Plan.keep_all(ctx.layout)
    plan.kinds[name] = "datetime"
    plan.replace(name, expr)
    return plan


def _all_boolean_words(ctx: Context, col: str) -> bool:
    words = casts.BOOLEAN_WORDS
    return (
        ctx.con.execute(
            f"SELECT count(*) > 0 AND bool_and(lower(trim({col})) IN {words!r}) "
            f"FROM src WHERE {col} IS NOT NULL"
        ).fetchall()[0][0]
        is True
    )


def _check_convertible(ctx: Context, name: str, expr: str, to: str, on_invalid: str, field: str):
    """Refuse when a present value would become missing, unless the user asked for that."""
    if on_invalid == "missing":
        return
    col = ident(name)
    present = f"{col} IS NOT NULL"
    if ctx.layout.is_float(name):
        present = f"isfinite({col})"
    bad, example, row = ctx.con.execute(
        f"SELECT count(*), first(CAST({col} AS VARCHAR) ORDER BY __row), min(__row) "
        f"FROM src WHERE {present} AND ({expr}) IS NULL"
    ).fetchall()[0]
    if bad:
        raise invalid(
            field,
            f"{bad:,} value{'s' if bad > 1 else ''} of {name!r} cannot be read as {to} "
            f"(first: {example!r} in row {row}); nothing was changed. Fix or filter them first, "
            'or set on_invalid to "missing" to turn them into missing values.',
        )
