"""Row predicates shared by the table view (filters, text search) and the filter_rows operation.

Semantics, the same everywhere: a missing value (null, NaN, inf) never matches a comparison or
`contains`, except `!=`, which keeps it (a missing value is indeed different from the value
given); text comparisons are exact and case-sensitive, `contains` is case-insensitive.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import pyarrow as pa

from app.ml.explore.dataset_file import Layout, ident
from app.ml.explore.errors import InvalidQuery

OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "contains", "is_missing", "not_missing")
VALUELESS = frozenset({"is_missing", "not_missing"})
_SQL_OP = {"==": "=", "!=": "IS DISTINCT FROM", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_PERIOD = re.compile(r"^(?P<y>\d{4})(?:-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?)?$")


def value_sql(layout: Layout, column: str) -> str:
    """The column as SQL with NaN and infinities turned into NULL, so they count as missing."""
    col = ident(column)
    if layout.is_float(column):
        return f"(CASE WHEN isfinite({col}) THEN {col} END)"
    return col


def parse_filter(spec: str, layout: Layout) -> tuple[str, str, str | None]:
    """Split "column:operator:value"; the column may itself contain ':' (longest known name wins)."""
    for column in sorted(layout.columns, key=len, reverse=True):
        if not spec.startswith(column + ":"):
            continue
        op, sep, value = spec[len(column) + 1 :].partition(":")
        if op not in OPERATORS:
            continue
        return column, op, (value if sep else None)
    raise InvalidQuery(
        f"Cannot read the filter {spec!r}: expected column:operator:value with a known column "
        f"and one of {', '.join(OPERATORS)}.",
        {"filter": [f"Invalid filter {spec!r}."]},
    )


def coerce_value(layout: Layout, column: str, op: str, value, field: str = "value"):
    """The value converted to the column's type; raise InvalidQuery when it cannot be."""
    if op in VALUELESS:
        return None
    if value is None:
        raise InvalidQuery(f"The operator {op} needs a value.", {field: ["Missing value."]})
    if op == "contains":
        return str(value)
    if layout.is_number(column):
        if isinstance(value, bool):
            value = str(value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise InvalidQuery(
                f"Column {column!r} holds numbers; {value!r} is not a number.",
                {field: ["Not a valid number."]},
            )
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if layout.is_temporal(column):
        if isinstance(value, (dt.datetime, dt.date)):
            return value
        try:
            return dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidQuery(
                f"Column {column!r} holds dates; {value!r} is not an ISO 8601 date or time.",
                {field: ["Not a valid datetime."]},
            ) from None
    return str(value)


def predicate_sql(layout: Layout, column: str, op: str, value) -> tuple[str, list]:
    """(SQL condition, parameters) for one already-coerced filter."""
    col = value_sql(layout, column)
    if op == "is_missing":
        return f"{col} IS NULL", []
    if op == "not_missing":
        return f"{col} IS NOT NULL", []
    if op == "contains":
        return f"contains(lower({as_text(layout, column)}), ?)", [value.lower()]
    if layout.is_temporal(column) and isinstance(value, dt.datetime) and value.tzinfo is not None:
        # Compare aware values in UTC against naive stored timestamps (ingest stores UTC).
        tz_type = layout.types[column]
        if getattr(tz_type, "tz", None) is None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return f"{col} {_SQL_OP[op]} ?", [value]


def filter_sql(specs, layout: Layout) -> tuple[list[str], list]:
    """Conditions and parameters for a list of "column:operator:value" filters (all must hold)."""
    conds, params = [], []
    for spec in specs:
        column, op, raw = parse_filter(spec, layout)
        cond, p = predicate_sql(layout, column, op, coerce_value(layout, column, op, raw, "filter"))
        conds.append(cond)
        params.extend(p)
    return conds, params


def search_sql(q: str, layout: Layout) -> tuple[str, list]:
    """Case-insensitive search across all columns, cheap enough for a million rows.

    Text columns match when they contain `q`; number columns when `q` is that number; date
    columns when `q` names their day, month or year ("2019", "2019-05", "2019-05-01") or their
    exact date and time. Casting every number to text for a substring match would cost seconds.
    """
    needle = q.lower()
    number = _as_number(q)
    period = _as_period(q)
    conds, params = [], []
    for column in layout.columns:
        col = ident(column)
        if layout.is_number(column):
            if number is not None:
                conds.append(f"{value_sql(layout, column)} = ?")
                params.append(number)
        elif layout.is_temporal(column):
            if period is not None:
                conds.append(f"({col} >= ? AND {col} < ?)")
                params.extend(period)
        else:
            conds.append(f"contains(lower({as_text(layout, column)}), ?)")
            params.append(needle)
    if not conds:
        return "FALSE", []
    return "(" + " OR ".join(conds) + ")", params


def _as_number(text: str):
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _as_period(text: str) -> tuple[dt.datetime, dt.datetime] | None:
    """[start, end) of the year, month, day or instant an ISO-like text names."""
    m = _PERIOD.match(text)
    if m:
        year, month, day = int(m["y"]), int(m["m"] or 0), int(m["d"] or 0)
        try:
            if day:
                start = dt.datetime(year, month, day)
                return start, start + dt.timedelta(days=1)
            if month:
                return dt.datetime(year, month, 1), dt.datetime(
                    year + month // 12, month % 12 + 1, 1
                )
            return dt.datetime(year, 1, 1), dt.datetime(year + 1, 1, 1)
        except ValueError:
            return None
    try:
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if instant.tzinfo is not None:
        instant = instant.astimezone(dt.UTC).replace(tzinfo=None)
    return instant, instant + dt.timedelta(microseconds=1)


def as_text(layout: Layout, column: str) -> str:
    """The column as text for a substring match; a string column as it is (a CAST would stop
    DuckDB from matching once per dictionary entry instead of once per row)."""
    if pa.types.is_string(layout.types[column]) or pa.types.is_large_string(layout.types[column]):
        return ident(column)
    return f"CAST({value_sql(layout, column)} AS VARCHAR)"
