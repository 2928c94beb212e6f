"""Statistics of number and date columns, from each column sorted once in numpy.

A sorted column gives everything the profile shows: the exact distinct count (value changes),
min and max (its ends), exact quartiles (by position), the histogram (a binary search per bin
edge); mean, std and skewness are vectorised sums. numpy's vectorised sort is several times
faster than the hash or sort a SQL engine runs for each of those statistics separately, and
only one column is in memory at a time. Correlations come from one chunked pass.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from app.ml.explore.dataset_file import Layout

HISTOGRAM_BINS = 20
CORRELATION_BATCH = 65_536
EPOCH = dt.datetime(1970, 1, 1)


def read_column(data, name: str) -> pa.ChunkedArray:
    """One column of a version: `data` is its Parquet file or the table itself (during ingest)."""
    if isinstance(data, pa.Table):
        return data.column(name)
    return pq.read_table(data, columns=[name]).column(0)


def column_stats(data, lay: Layout, name: str) -> dict:
    """{count, unique, stats, histogram?, skew} of one number or date column (`data`: see read_column)."""
    temporal = lay.is_temporal(name)
    values = _present_sorted(read_column(data, name), temporal)
    n = len(values)
    if n == 0:
        keys = (
            ("min", "max", "median")
            if temporal
            else ("min", "max", "mean", "std", "skew", "q1", "median", "q3")
        )
        return {"count": 0, "unique": 0, "stats": dict.fromkeys(keys), "skew": None}
    unique = 1 + int(np.count_nonzero(values[1:] != values[:-1]))
    out = {"count": n, "unique": unique, "skew": None}
    if temporal:
        mid = values[(n - 1) // 2]
        out["stats"] = {
            "min": _datetime(values[0]),
            "max": _datetime(values[-1]),
            "median": _datetime(mid),
        }
    else:
        x = values.astype(np.float64, copy=False)
        mean = float(x.mean())
        dev = x - mean
        sq = dev * dev
        m2 = float(sq.sum())
        std = math.sqrt(m2 / (n - 1)) if n > 1 else None
        skew = None
        if n > 2 and m2 > 0:
            g1 = (float(np.dot(sq, dev)) / n) / (m2 / n) ** 1.5
            skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)  # sample skewness, as DuckDB and pandas
        out["skew"] = skew
        q1, median, q3 = (_quantile(x, q) for q in (0.25, 0.5, 0.75))
        out["stats"] = {
            "min": values[0].item(),
            "max": values[-1].item(),
            "mean": mean,
            "std": std,
            "skew": skew,
            "q1": q1,
            "median": median,
            "q3": q3,
        }
    out["histogram"] = _histogram(values, lay.kinds[name] == "integer", temporal)
    return out


def _present_sorted(column: pa.ChunkedArray, temporal: bool) -> np.ndarray:
    """The non-missing values (NaN and infinities count as missing) as a sorted numpy array.

    One copy of the column, sorted in place (the profile runs beside the ingest's table)."""
    if temporal:
        if pa.types.is_date(column.type):
            column = column.cast(pa.timestamp("us"))
        column = column.cast(pa.timestamp("us", tz=column.type.tz)).cast(pa.int64())
    chunks = [c.drop_null() if c.null_count else c for c in column.chunks]
    dtype = column.type.to_pandas_dtype()
    values = np.concatenate([c.to_numpy() for c in chunks]) if chunks else np.empty(0, dtype)
    values.sort()
    if values.dtype.kind == "f":  # -inf sorts first, +inf and NaN last
        lo = np.searchsorted(values, -np.inf, side="right")
        hi = np.searchsorted(values, np.inf, side="left")
        values = values[lo:hi]
    return values


def _quantile(x: np.ndarray, q: float) -> float:
    """Linear interpolation between the closest ranks (SQL quantile_cont, numpy's default)."""
    pos = q * (len(x) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(x) - 1)
    return float(x[low] + (pos - low) * (x[high] - x[low]))


def _histogram(values: np.ndarray, integer: bool, temporal: bool) -> dict:
    """Equal-width bins from min to max, the last one closed; whole-number widths for integers."""
    lo, hi = float(values[0]), float(values[-1])
    if integer:
        width = math.ceil((hi - lo + 1) / HISTOGRAM_BINS)
        bins = math.ceil((hi - lo + 1) / width)
        edges = [int(lo) + i * width for i in range(bins + 1)]
    elif hi > lo:
        edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1).tolist()
    else:
        edges = [lo, lo + 1.0]
    positions = np.searchsorted(
        values, np.asarray(edges, dtype=values.dtype if integer else np.float64)
    )
    positions[-1] = len(values)
    shown = [_datetime(e) for e in edges] if temporal else edges
    return {"edges": shown, "counts": np.diff(positions).tolist()}


def _datetime(epoch_us) -> str:
    return (EPOCH + dt.timedelta(microseconds=round(float(epoch_us)))).isoformat()


def correlations(data, numeric: list[str]) -> list[list]:
    """Pearson correlations over pairwise-complete rows, accumulated batch by batch (centred on
    the first batch's means, for precision); None where a column is constant on the shared rows."""
    k = len(numeric)
    if not k:
        return []
    pairs = np.zeros((k, k))
    sx = np.zeros((k, k))
    sxx = np.zeros((k, k))
    sxy = np.zeros((k, k))
    centre = None
    if isinstance(data, pa.Table):
        batches = data.select(numeric).to_batches(max_chunksize=CORRELATION_BATCH)
    else:
        batches = pq.ParquetFile(data).iter_batches(batch_size=CORRELATION_BATCH, columns=numeric)
    for batch in batches:
        cols = [batch.column(i).to_numpy(zero_copy_only=False).astype(np.float64) for i in range(k)]
        data = np.column_stack(cols)
        present = np.isfinite(data)
        if centre is None:
            with np.errstate(invalid="ignore"):
                centre = np.nan_to_num(np.nanmean(np.where(present, data, np.nan), axis=0))
        data -= centre
        data[~present] = 0.0
        m = present.astype(np.float64)
        pairs += m.T @ m
        sx += data.T @ m  # sx[i, j]: sum of column i over rows where j is present (and i)
        sxx += (data * data).T @ m
        sxy += data.T @ data
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sxy - sx * sx.T / pairs
        var_i = sxx - sx * sx / pairs
        corr = cov / np.sqrt(var_i * var_i.T)
    out = []
    for i in range(k):
        row = []
        for j in range(k):
            value = corr[i, j]
            ok = (
                np.isfinite(value) and var_i[i, j] > 1e-12 * max(sxx[i, j], 1.0) and pairs[i, j] > 1
            )
            row.append(float(np.clip(value, -1.0, 1.0)) if ok else None)
        out.append(row)
    return out
