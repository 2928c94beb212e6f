"""SQL expressions converting a column to another kind; NULL marks a value that does not convert."""

from __future__ import annotations

from app.ml.explore.dataset_file import Layout, ident
from app.ml.operations.dates import date_expr, pick_format

TRUE_WORDS = ("true", "yes", "y", "t", "on")
FALSE_WORDS = ("false", "no", "n", "f", "off")
BOOLEAN_WORDS = TRUE_WORDS + FALSE_WORDS


def to_text(lay: Layout, name: str) -> str:
    col = ident(name)
    if lay.is_temporal(name):
        return f"strftime({col}, '%Y-%m-%dT%H:%M:%S')"
    if lay.is_float(name):
        return f"CASE WHEN isfinite({col}) THEN CAST({col} AS VARCHAR) END"
    return f"CAST({col} AS VARCHAR)"


def to_datetime(con, lay: Layout, name: str) -> str:
    if lay.is_temporal(name):
        return ident(name)
    text = f"CAST({ident(name)} AS VARCHAR)"
    return date_expr(text, pick_format(con, text, name))


def to_boolean(lay: Layout, name: str) -> str:
    """Numbers 0/1 become the strings "0"/"1"; words (yes/no, true/false...) keep their spelling."""
    col = ident(name)
    if lay.is_number(name):
        return f"CASE WHEN {col} IN (0, 1) THEN CAST(CAST({col} AS BIGINT) AS VARCHAR) END"
    return f"CASE WHEN lower(trim({col})) IN {BOOLEAN_WORDS!r} THEN {col} END"


def to_number(lay: Layout, name: str, to: str, boolean_words: bool) -> str:
    """Integer or float; boolean words count as 1/0; an integer target refuses fractions."""
    col = ident(name)
    sql_type = "BIGINT" if to == "integer" else "DOUBLE"
    if boolean_words:
        low = f"lower(trim({col}))"
        return (
            f"CAST(CASE WHEN {low} IN {TRUE_WORDS!r} THEN 1 "
            f"WHEN {low} IN {FALSE_WORDS!r} THEN 0 END AS {sql_type})"
        )
    if lay.is_number(name):
        if to == "float":
            return f"CAST({col} AS DOUBLE)"
        return _whole(col) if lay.is_float(name) else col
    as_double = f"TRY_CAST(trim({col}) AS DOUBLE)"
    if to == "float":
        return f"CASE WHEN isfinite({as_double}) THEN {as_double} END"
    # TRY_CAST('3.5' AS BIGINT) rounds to 4, so fractions go through the whole-number check.
    return (
        f"CASE WHEN regexp_full_match(trim({col}), '[+-]?[0-9]+') "
        f"THEN TRY_CAST(trim({col}) AS BIGINT) ELSE {_whole(as_double)} END"
    )


def _whole(x: str) -> str:
    return (
        f"CASE WHEN isfinite({x}) AND {x} = round({x}) AND abs({x}) < 9.2e18 "
        f"THEN CAST({x} AS BIGINT) END"
    )
