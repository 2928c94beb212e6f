"""Profile of a dataset version: per-column statistics, histograms, top values, correlations, warnings.

Computed by DuckDB straight from the Parquet file in a few focused queries (each reads only the
columns it needs; holistic aggregates such as quantiles and distinct counts are kept apart from
the streaming ones, which lets DuckDB run each of them in parallel). Unique counts are exact.
"""

# ruff: noqa: S608 -- SQL text is built only from quoted identifiers (ident) and numbers.
from __future__ import annotations

import datetime as dt
import math
import os

from app.ml.explore.dataset_file import Layout, duck, ident, json_value, layout, sql_path
from app.ml.explore.predicates import value_sql
from app.ml.explore.profile_warnings import profile_warnings

HISTOGRAM_BINS = 20
TOP_VALUES = 10
NUMBER_KINDS = frozenset({"integer", "float"})


def profile_dataset(path: str | os.PathLike) -> dict:
    """{n_rows, n_cols, duplicated_rows, columns, correlations, warnings} as API.md's /profile."""
    lay = layout(path)
    con = duck()
    src = f"read_parquet({sql_path(path)})"
    numeric = [c for c in lay.columns if lay.is_number(c)]
    temporal = [c for c in lay.columns if lay.is_temporal(c)]
    n_rows = lay.n_rows

    basics = _basics(con, src, lay, numeric)
    quantiles = _quantiles(con, src, lay, numeric + temporal)
    unique, top = _unique_and_top(con, src, lay)
    histograms = _histograms(con, src, lay, numeric + temporal, basics)
    duplicated = _duplicated_rows(con, src, lay) if n_rows else 0

    columns = []
    for name in lay.columns:
        b = basics[name]
        entry = {
            "name": name,
            "kind": lay.kinds[name],
            "missing": n_rows - b["count"],
            "unique": unique[name],
            "stats": _stats(lay, name, b, quantiles.get(name)),
        }
        if name in histograms:
            entry["histogram"] = histograms[name]
        if name in top:
            entry["top_values"] = top[name]
        columns.append(entry)
    result = {
        "n_rows": n_rows,
        "n_cols": len(lay.columns),
        "duplicated_rows": duplicated,
        "columns": columns,
        "correlations": {
            "columns": numeric,
            "matrix": [[_corr(basics, a, b) for b in numeric] for a in numeric],
        },
    }
    result["warnings"] = profile_warnings(result, {c["name"]: basics[c["name"]] for c in columns})
    return result


def _basics(con, src: str, lay: Layout, numeric: list[str]) -> dict:
    """Streaming aggregates in one scan: counts, min/max, mean/std/skew, text lengths, correlations."""
    parts, keys = ["count(*)"], [("", "n")]
    for c in lay.columns:
        v = value_sql(lay, c)
        aggs = {"count": f"count({v})"}
        if lay.is_number(c):
            aggs |= {
                "min": f"min({v})",
                "max": f"max({v})",
                "mean": f"avg({v})",
                "std": f"stddev_samp({v})",
                "skew": f"skewness({v})",
            }
        elif lay.is_temporal(c):
            aggs |= {"min": f"min({v})", "max": f"max({v})"}
        else:
            length = f"length(CAST({v} AS VARCHAR))"
            aggs |= {
                "min_length": f"min({length})",
                "max_length": f"max({length})",
                "mean_length": f"avg({length})",
            }
        for key, sql in aggs.items():
            parts.append(sql)
            keys.append((c, key))
    for i, a in enumerate(numeric):
        for b in numeric[i + 1 :]:
            parts.append(f"corr({value_sql(lay, a)}, {value_sql(lay, b)})")
            keys.append(((a, b), "corr"))
    row = con.execute(f"SELECT {', '.join(parts)} FROM {src}").fetchall()[0]
    out: dict = {c: {} for c in lay.columns}
    out["__corr"] = {}
    for (col, key), value in zip(keys, row, strict=True):
        if key == "n":
            continue
        if key == "corr":
            out["__corr"][col] = value
        else:
            out[col][key] = value
    return out


def _quantiles(con, src: str, lay: Layout, columns: list[str]) -> dict:
    """Exact quartiles and median; dates use the discrete quantile (a date that exists)."""
    if not columns:
        return {}
    parts = []
    for c in columns:
        fn = "quantile_disc" if lay.is_temporal(c) else "quantile_cont"
        parts.append(f"{fn}({value_sql(lay, c)}, [0.25, 0.5, 0.75])")
    row = con.execute(f"SELECT {', '.join(parts)} FROM {src}").fetchall()[0]
    return dict(zip(columns, row, strict=True))


def _unique_and_top(con, src: str, lay: Layout) -> tuple[dict, dict]:
    """Exact distinct counts; for categorical and boolean columns also the most frequent values."""
    unique, top = {}, {}
    for c in lay.columns:
        v = value_sql(lay, c)
        if lay.kinds[c] in ("categorical", "boolean"):
            count, values, counts = con.execute(
                f"SELECT count(v), max_by(v, c, {TOP_VALUES}), max(c, {TOP_VALUES}) "
                f"FROM (SELECT {v} AS v, count(*) AS c FROM {src} WHERE v IS NOT NULL GROUP BY v)"
            ).fetchall()[0]
            pairs = sorted(
                zip(values or [], counts or [], strict=True), key=lambda p: (-p[1], str(p[0]))
            )
            top[c] = [{"value": json_value(val), "count": n} for val, n in pairs]
            unique[c] = count
        else:
            unique[c] = con.execute(f"SELECT count(DISTINCT {v}) FROM {src}").fetchall()[0][0]
    return unique, top


def _histograms(con, src: str, lay: Layout, columns: list[str], basics: dict) -> dict:
    """Equal-width bins from min to max (whole-number widths for integer columns)."""
    specs, parts = {}, []
    for c in columns:
        lo, hi = basics[c].get("min"), basics[c].get("max")
        if lo is None:
            continue
        temporal = lay.is_temporal(c)
        x = f"epoch_us({ident(c)})" if temporal else value_sql(lay, c)
        lo_n, hi_n = (_epoch_us(lo), _epoch_us(hi)) if temporal else (float(lo), float(hi))
        bins, width = (HISTOGRAM_BINS, (hi_n - lo_n) / HISTOGRAM_BINS) if hi_n > lo_n else (1, 1.0)
        if lay.kinds[c] == "integer" and not temporal:
            # Whole-number bins, so no bin holds one more integer than its neighbours.
            width = float(math.ceil((hi_n - lo_n + 1) / HISTOGRAM_BINS))
            bins = math.ceil((hi_n - lo_n + 1) / width)
        specs[c] = (lo_n, width, bins, temporal)
        # FILTER, not a NULL bin: least() ignores NULLs and would put missing values in the last bin.
        parts.append(
            f"histogram(least(floor(({x} - {lo_n!r}) / {width!r}), {bins - 1})::INTEGER) "
            f"FILTER (WHERE {x} IS NOT NULL)"
        )
    if not parts:
        return {}
    row = con.execute(f"SELECT {', '.join(parts)} FROM {src}").fetchall()[0]
    out = {}
    for c, counts_map in zip(specs, row, strict=True):
        lo_n, width, bins, temporal = specs[c]
        counts = [0] * bins
        for b, n in (counts_map or {}).items():
            if b is not None:
                counts[max(0, min(bins - 1, b))] += n
        edges = [lo_n + i * width for i in range(bins + 1)]
        if temporal:
            edges = [_from_epoch_us(e) for e in edges]
        elif lay.kinds[c] == "integer":
            edges = [int(e) for e in edges]
        out[c] = {"edges": [json_value(e) for e in edges], "counts": counts}
    return out


def _duplicated_rows(con, src: str, lay: Layout) -> int:
    """Rows equal to an earlier row, compared on a 64-bit hash of every column.

    A false match needs a hash collision (about 1 in 10^7 on a million distinct rows); grouping
    on the columns themselves is exact but costs three times as much.
    """
    cols = ", ".join(ident(c) for c in lay.columns)
    return con.execute(f"SELECT count(*) - count(DISTINCT hash({cols})) FROM {src}").fetchall()[0][
        0
    ]


def _stats(lay: Layout, name: str, b: dict, quartiles) -> dict:
    kind_stats = {k: v for k, v in b.items() if k != "count"}
    if lay.is_number(name) or lay.is_temporal(name):
        q1, median, q3 = quartiles or (None, None, None)
        kind_stats |= {"q1": q1, "median": median, "q3": q3}
    return {k: json_value(v) for k, v in kind_stats.items()}


def _corr(basics: dict, a: str, b: str):
    if a == b:
        return 1.0 if basics[a].get("std") else None
    value = basics["__corr"].get((a, b), basics["__corr"].get((b, a)))
    return value if value is not None and math.isfinite(value) else None


def _epoch_us(value) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp() * 1e6
    return dt.datetime.combine(value, dt.time(), dt.UTC).timestamp() * 1e6


def _from_epoch_us(value: float) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=round(value))
