"""Date parsing for cast and parse_dates: choose one format that reads every value."""

# ruff: noqa: S608 -- SQL text is built from quoted identifiers and the fixed formats below.
from __future__ import annotations

from app.ml.operations.registry import invalid

ISO = "iso"
# Month-first before day-first when both read every value: the same choice as ingest.
FORMATS = (
    ISO,
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y%m%d",
    "%d %b %Y",
    "%b %d %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%B %d %Y",
    "%B %d, %Y",
)


def date_expr(text_sql: str, fmt: str) -> str:
    """SQL reading a text expression as a TIMESTAMP (NULL when it does not parse)."""
    value = f"trim({text_sql})"
    if fmt == ISO:
        return f"TRY_CAST(replace({value}, 'T', ' ') AS TIMESTAMP)"
    return f"CAST(try_strptime({value}, '{fmt.replace(chr(39), chr(39) * 2)}') AS TIMESTAMP)"


def pick_format(con, text_sql: str, column: str) -> str:
    """The first format reading the most values (all of them, ideally) of the column."""
    fails = ", ".join(
        f"count(*) FILTER (WHERE {text_sql} IS NOT NULL AND ({date_expr(text_sql, f)}) IS NULL)"
        for f in FORMATS
    )
    row = con.execute(f"SELECT count({text_sql}), {fails} FROM src").fetchall()[0]
    present, counts = row[0], row[1:]
    best = min(range(len(FORMATS)), key=lambda i: counts[i])
    if present and counts[best] == present:
        raise invalid(
            "format", f"No date format reads the values of {column!r}; give one, such as %d/%m/%Y."
        )
    return FORMATS[best]
