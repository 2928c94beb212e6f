"""Plain values the dataset templates show: dialect in words, chart specs, heatmap buckets.

Templates receive these prepared values and never compute them (STYLE: no logic in templates).
Charts are specs for app/static/js/charts.js, passed through a data-* attribute (the CSP forbids
inline scripts).
"""

from __future__ import annotations

import math
import re

ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
DASH = "\u2013"  # an en dash for "no value" and number ranges

# A page stays readable (and light) on a table with thousands of columns.
MAX_COLUMN_CARDS = 200
MAX_MISSING_BARS = 40
MAX_HEATMAP = 30
DELIMITER_NAMES = {",": "comma (,)", ";": "semicolon (;)", "\t": "tab", "|": "pipe (|)", " ": "space"}
STAT_LABELS = [
    ("min", "Min"), ("q1", "25 %"), ("median", "Median"), ("mean", "Mean"), ("q3", "75 %"),
    ("max", "Max"), ("std", "Std. dev."), ("skew", "Skew"),
    ("min_length", "Shortest"), ("mean_length", "Mean length"), ("max_length", "Longest"),
]
KIND_HELP = {
    "integer": "whole numbers", "float": "numbers", "boolean": "yes/no values",
    "categorical": "a few repeated values", "datetime": "dates and times",
    "text": "free text", "id": "identifiers",
}


def fmt(value, digits: int = 4) -> str:
    """A number for people: integers as they are, others with `digits` significant digits."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return DASH
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.{digits}g}" if abs(value) >= 1e-3 else f"{value:.{digits}g}"
    if isinstance(value, str) and ISO_DATETIME.match(value):  # "2024-01-10T00:00:00" -> "2024-01-10"
        date, _, time = value.partition("T")
        time = time.removesuffix(".000000").removesuffix(":00")
        return date if time in ("", "00:00") else f"{date} {time}"
    return str(value)


def dialect_rows(dialect: dict | None, repairs: dict | None) -> list[tuple[str, str]]:
    """(label, value) pairs describing how the file was read."""
    d, r = dialect or {}, repairs or {}
    quote = d.get("quotechar")
    rows = [
        ("Encoding", d.get("encoding") or DASH),
        ("Delimiter", DELIMITER_NAMES.get(d.get("delimiter"), repr(d.get("delimiter")))),
        ("Quote", f"{quote}" if quote else "none"),
        ("Decimal separator", d.get("decimal") or "."),
        ("Thousands separator", d.get("thousands") or "none"),
        ("Header row", "yes" if d.get("header", True) else "no (columns named column_1, …)"),
        ("Lines skipped before the header", str(d.get("skipped_lines") or 0)),
        ("Rows repaired", str(r.get("rows_repaired") or 0)),
        ("Rows skipped", str(r.get("rows_skipped") or 0)),
    ]
    if d.get("escapechar"):
        rows.insert(3, ("Escape character", d["escapechar"]))
    if r.get("lines"):
        rows.append(("First lines repaired or skipped", ", ".join(map(str, r["lines"]))))
    return rows


def dialect_summary(dialect: dict | None, repairs: dict | None) -> str:
    """One line: "UTF-8 · comma (,) · decimal . · header row · 2 rows repaired"."""
    d, r = dialect or {}, repairs or {}
    parts = [(d.get("encoding") or "?").upper(), DELIMITER_NAMES.get(d.get("delimiter"), repr(d.get("delimiter"))),
             f"decimal {d.get('decimal') or '.'}", "header row" if d.get("header", True) else "no header row"]
    if d.get("skipped_lines"):
        parts.append(f"{d['skipped_lines']} lines skipped before the header")
    for key, label in (("rows_repaired", "repaired"), ("rows_skipped", "skipped")):
        if r.get(key):
            parts.append(f"{r[key]:,} rows {label}")
    return " · ".join(parts)


def _short(value) -> str:
    """A bin edge: no thousands separators (years read 2007, not 2,007), 3 significant digits."""
    return str(value) if isinstance(value, int) else f"{value:.3g}"


def _bin_label(lo, hi) -> str:
    if isinstance(lo, str):  # datetimes arrive as ISO strings: label a bin by its start
        return lo[:10] if lo[10:].strip("T0:.") == "" else lo[:16].replace("T", " ")
    if isinstance(lo, int) and isinstance(hi, int):  # whole-number bins hold lo .. hi - 1
        return str(lo) if hi - lo <= 1 else f"{lo}{DASH}{hi - 1}"
    return f"{_short(lo)}{DASH}{_short(hi)}"


def column_chart(column: dict) -> dict | None:
    """A histogram (numeric, datetime) or a bar chart of the top values (categorical, boolean)."""
    if column.get("histogram"):
        edges, counts = column["histogram"]["edges"], column["histogram"]["counts"]
        labels = [_bin_label(edges[i], edges[i + 1]) for i in range(len(counts))]
        return {"type": "histogram", "labels": labels, "values": counts, "label": "rows"}
    if column.get("top_values"):
        top = column["top_values"]
        return {"type": "bars", "labels": [str(t["value"]) for t in top],
                "values": [t["count"] for t in top], "label": "rows"}
    return None


def missing_chart(profile: dict) -> dict:
    """Missing values per column; a wide table shows its MAX_MISSING_BARS most incomplete columns."""
    columns = profile.get("columns", [])
    if len(columns) > MAX_MISSING_BARS:
        worst = sorted(columns, key=lambda c: -c.get("missing", 0))[:MAX_MISSING_BARS]
        columns = [c for c in columns if c in worst]
    return {"type": "bars", "labels": [c["name"] for c in columns],
            "values": [c.get("missing", 0) for c in columns], "label": "missing values"}


def column_stats(column: dict) -> list[tuple[str, str]]:
    stats = column.get("stats") or {}
    return [(label, fmt(stats[key])) for key, label in STAT_LABELS if key in stats]


def corr_bucket(value) -> str:
    """A CSS class for a correlation: sign and strength in five steps (no inline styles)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "corr-none"
    step = min(4, int(abs(value) * 5))
    return f"corr-{'pos' if value >= 0 else 'neg'}-{step}"


def heatmap(correlations: dict | None) -> dict:
    """{columns, rows: [(name, [(text, css class)])]} for the correlation table."""
    every = (correlations or {}).get("columns") or []
    columns = every[:MAX_HEATMAP]
    matrix = [row[:MAX_HEATMAP] for row in ((correlations or {}).get("matrix") or [])[:MAX_HEATMAP]]
    rows = [(name, [(fmt(v, 2) if v is not None else DASH, corr_bucket(v)) for v in values])
            for name, values in zip(columns, matrix, strict=False)]
    return {"columns": columns, "rows": rows, "truncated": len(every) > len(columns)}


def profile_view(profile: dict) -> dict:
    """Everything the profile page shows, prepared."""
    n_rows = profile.get("n_rows") or 0
    columns = []
    for column in profile.get("columns", [])[:MAX_COLUMN_CARDS]:
        missing = column.get("missing", 0)
        columns.append({
            "name": column["name"], "kind": column["kind"], "kind_help": KIND_HELP.get(column["kind"], ""),
            "missing": missing, "missing_share": f"{missing / n_rows:.1%}" if n_rows else DASH,
            "unique": column.get("unique", 0), "stats": column_stats(column), "chart": column_chart(column),
        })
    return {"n_rows": n_rows, "n_cols": profile.get("n_cols", 0),
            "duplicated_rows": profile.get("duplicated_rows", 0), "columns": columns,
            "missing_total": sum(c.get("missing", 0) for c in profile.get("columns", [])),
            "missing_chart": missing_chart(profile), "heatmap": heatmap(profile.get("correlations")),
            "warnings": profile.get("warnings", [])}


def cell(value) -> str:
    """A table cell: missing shown as an empty marker, numbers as written by the engine."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
