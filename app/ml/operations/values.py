"""Value operations that keep every row: fill missing, replace values, trim text."""

# ruff: noqa: S608 -- SQL text is built only from quoted identifiers; values are bound parameters.
from __future__ import annotations

import math

from app.ml.explore.dataset_file import ident
from app.ml.explore.predicates import value_sql
from app.ml.operations import params as P
from app.ml.operations.registry import Context, Plan, invalid, register

STRATEGIES = ("constant", "mean", "median", "mode")


def _fill_params(params, lay):
    P.only(params, {"columns", "strategy", "value"}, {"columns", "strategy"})
    names = P.columns(params, lay)
    strategy = P.choice(params, "strategy", STRATEGIES)
    value = None
    if strategy == "constant":
        if params.get("value") is None:
            raise invalid("value", "The constant strategy needs a value.")
        value = {n: P.typed_value(params["value"], lay, n, "value") for n in names}
    elif strategy in ("mean", "median"):
        wrong = [n for n in names if not lay.is_number(n)]
        if wrong:
            raise invalid(
                "strategy", f"The {strategy} needs numbers; {wrong[0]!r} is {lay.kinds[wrong[0]]}."
            )
    elif params.get("value") is not None:
        raise invalid("value", f"The {strategy} strategy takes no value.")
    return {"columns": names, "strategy": strategy, "value": value}


@register("fill_missing", _fill_params)
def fill_missing(ctx: Context, p: dict) -> Plan:
    """Fill missing cells; an integer column's mean or median is rounded to stay whole."""
    plan = Plan.keep_all(ctx.layout)
    for name in p["columns"]:
        fill = (
            p["value"][name]
            if p["strategy"] == "constant"
            else _statistic(ctx, name, p["strategy"])
        )
        if fill is None:
            raise invalid(
                "columns", f"Column {name!r} has no values to compute a {p['strategy']} from."
            )
        plan.replace(name, f"coalesce({value_sql(ctx.layout, name)}, ?)", [fill])
    return plan


def _statistic(ctx: Context, name: str, strategy: str):
    v = value_sql(ctx.layout, name)
    if strategy == "mode":  # most frequent value, the smallest one on a tie
        row = ctx.con.execute(
            f"SELECT v FROM (SELECT {v} AS v, count(*) AS n FROM src WHERE {v} IS NOT NULL GROUP BY v) "
            "ORDER BY n DESC, v LIMIT 1"
        ).fetchall()
        return row[0][0] if row else None
    agg = "avg" if strategy == "mean" else "quantile_cont"
    arg = f"{v}, 0.5" if strategy == "median" else v
    value = ctx.con.execute(f"SELECT {agg}({arg}) FROM src").fetchall()[0][0]
    if value is not None and ctx.layout.is_integer(name):
        value = math.floor(value + 0.5)  # half up, not Python's half-to-even
    return value


def _replace_params(params, lay):
    P.only(params, {"column", "mapping"}, {"column", "mapping"})
    name = P.column(params, lay)
    mapping = params["mapping"]
    if not isinstance(mapping, dict) or not mapping:
        raise invalid("mapping", "Give an object {old value: new value}.")
    pairs = [
        (P.typed_value(old, lay, name, "mapping"), P.typed_value(new, lay, name, "mapping"))
        for old, new in mapping.items()
    ]
    return {"column": name, "pairs": pairs}


@register("replace_values", _replace_params)
def replace_values(ctx: Context, p: dict) -> Plan:
    """Replace exact values (a null new value makes them missing); the others are untouched."""
    name = p["column"]
    col = ident(name)
    whens, args = [], []
    for old, new in p["pairs"]:
        whens.append(f"WHEN {col} = ? THEN ?")
        args.extend([old, new])
    plan = Plan.keep_all(ctx.layout)
    cast_to = (
        ctx.layout.sql_type(name)
        or ctx.con.execute(f"SELECT typeof({col}) FROM src LIMIT 1").fetchall()[0][0]
    )
    plan.replace(name, f"CAST(CASE {' '.join(whens)} ELSE {col} END AS {cast_to})", args)
    return plan


def _trim_params(params, lay):
    P.only(params, {"columns"})
    text = [n for n in lay.columns if lay.is_string(n)]
    names = P.columns(params, lay, optional=True) if "columns" in params else text
    wrong = [n for n in names if not lay.is_string(n)]
    if wrong:
        raise invalid(
            "columns", f"Only text can be trimmed; {wrong[0]!r} is {lay.kinds[wrong[0]]}."
        )
    if not names:
        raise invalid("columns", "This dataset has no text column to trim.")
    return {"columns": names}


@register("trim_text", _trim_params)
def trim_text(ctx: Context, p: dict) -> Plan:
    """Remove leading and trailing whitespace; a cell left empty becomes missing, as at upload."""
    plan = Plan.keep_all(ctx.layout)
    for name in p["columns"]:
        col = ident(name)
        plan.replace(name, f"nullif(regexp_replace({col}, '^\\s+|\\s+$', '', 'g'), '')")
    return plan
