"""Statistics of number and date columns, from each column sorted (or counted) once in numpy.

A sorted column gives everything the profile shows: the exact distinct count (value changes),
min and max (its ends), exact quartiles (by position), the histogram (a binary search per bin
edge); mean, std and skewness are sums taken slice by slice. The sorted copy is the narrowest
that holds the values losslessly: an integer or date column whose values span less than 2**32
is sorted as uint32 offsets from its minimum (4 bytes a row instead of 8), and one spanning
less than COUNTED_RANGE is not sorted at all but counted per value (np.bincount), which gives
the same statistics from a table the size of the range. Nothing else is as long as the column:
nulls, NaN and infinities are dropped, dates converted and sums taken SLICE rows at a time, so
a long narrow table costs about one narrow copy of its widest number column beside the ingest's
table. Sums follow numpy's pairwise order over the whole column (mean and std are the figures
numpy gives for the sorted column). Correlations come from one chunked pass.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from app.ml.explore.dataset_file import Layout

HISTOGRAM_BINS = 20
CORRELATION_BATCH = 65_536
EPOCH = dt.datetime(1970, 1, 1)
SLICE = 1 << 20  # rows converted, compared or summed at a time
COUNTED_RANGE = 1 << 16  # integer columns spanning fewer values are counted, not sorted
EXACT_INT = 1 << 53  # integers a float64 holds exactly
_PAIRWISE_LEAF = 8  # numpy's pairwise summation splits at multiples of 8


def read_column(data, name: str) -> pa.ChunkedArray:
    """One column of a version: `data` is its Parquet file or the table itself (during ingest)."""
    if isinstance(data, pa.Table):
        return data.column(name)
    return pq.read_table(data, columns=[name]).column(0)


def column_stats(data, lay: Layout, name: str) -> dict:
    """{count, unique, stats, histogram?, skew} of one number or date column (`data`: see read_column)."""
    temporal = lay.is_temporal(name)
    values = _present_values(read_column(data, name), temporal)
    n = values.n
    if n == 0:
        keys = (
            ("min", "max", "median")
            if temporal
            else ("min", "max", "mean", "std", "skew", "q1", "median", "q3")
        )
        return {"count": 0, "unique": 0, "stats": dict.fromkeys(keys), "skew": None}
    out = {"count": n, "unique": values.unique(), "skew": None}
    if temporal:
        out["stats"] = {
            "min": _datetime(values.at(0)),
            "max": _datetime(values.at(n - 1)),
            "median": _datetime(values.at((n - 1) // 2)),
        }
    else:
        mean, m2, m3 = values.moments()
        std = math.sqrt(m2 / (n - 1)) if n > 1 else None
        skew = None
        if n > 2 and m2 > 0:
            g1 = (m3 / n) / (m2 / n) ** 1.5
            skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)  # sample skewness, as DuckDB and pandas
        out["skew"] = skew
        q1, median, q3 = (_quantile(values, q) for q in (0.25, 0.5, 0.75))
        out["stats"] = {
            "min": values.at(0),
            "max": values.at(n - 1),
            "mean": mean,
            "std": std,
            "skew": skew,
            "q1": q1,
            "median": median,
            "q3": q3,
        }
    out["histogram"] = _histogram(values, lay.kinds[name] == "integer", temporal)
    return out


def _slices(column: pa.ChunkedArray, temporal: bool) -> Iterator[np.ndarray]:
    """The non-missing values, SLICE rows at a time (dates as epoch microseconds; NaN and
    infinities count as missing)."""
    for chunk in column.chunks:
        for start in range(0, len(chunk), SLICE):
            part = chunk.slice(start, SLICE)
            if part.null_count:
                part = part.drop_null()
            if temporal:
                if pa.types.is_date(part.type):
                    part = part.cast(pa.timestamp("us"))
                part = part.cast(pa.timestamp("us", tz=part.type.tz)).cast(pa.int64())
            values = part.to_numpy(zero_copy_only=False)
            if values.dtype.kind == "f":
                finite = np.isfinite(values)
                if not finite.all():
                    values = values[finite]
            if len(values):
                yield values


def _present_values(column: pa.ChunkedArray, temporal: bool) -> _Sorted | _Counted:
    """The non-missing values, sorted (or counted): see the module's docstring."""
    n, low, high, integer = 0, None, None, None
    for values in _slices(column, temporal):
        n += len(values)
        integer = values.dtype.kind in "iu"
        if integer:
            lo, hi = int(values.min()), int(values.max())
            low = lo if low is None else min(low, lo)
            high = hi if high is None else max(high, hi)
    if n == 0:
        return _Sorted(np.empty(0), None)
    if integer and high - low < COUNTED_RANGE:
        counts = np.zeros(high - low + 1, dtype=np.int64)
        for values in _slices(column, temporal):
            counts += np.bincount((values - low).astype(np.intp), minlength=len(counts))
        present = np.flatnonzero(counts)
        return _Counted(present.astype(np.int64) + low, counts[present])
    base = None
    dtype = column.type.to_pandas_dtype() if not temporal else np.int64
    if integer and high - low < np.iinfo(np.uint32).max and max(-low, high) <= EXACT_INT:
        base, dtype = low, np.uint32
    out = np.empty(n, dtype=dtype)
    at = 0
    for values in _slices(column, temporal):
        out[at : at + len(values)] = values if base is None else values - base
        at += len(values)
    out.sort()
    return _Sorted(out, base)


class _Sorted:
    """The present values of a column, sorted; `base` added back when they are offsets."""

    def __init__(self, values: np.ndarray, base: int | None):
        self.values, self.base, self.n = values, base, len(values)
        if values.dtype.kind in "iu" and self.n:
            self.exact = max(-self.at(0), self.at(self.n - 1)) <= EXACT_INT
        else:
            self.exact = False

    def at(self, i: int):
        value = self.values[i].item()
        return value if self.base is None else value + self.base

    def unique(self) -> int:
        return distinct_sorted(self.values)

    def _floats(self, lo: int, m: int) -> np.ndarray:
        part = self.values[lo : lo + m]
        if self.base is not None:
            part = part.astype(np.int64) + self.base
        return part.astype(np.float64, copy=False)

    def moments(self) -> tuple[float, float, float]:
        """(mean, sum of squared deviations, sum of cubed deviations)."""
        mean = _pairwise_sum(lambda lo, m: _sum(self._floats(lo, m)), self.n) / self.n
        cubes = []

        def squares(lo: int, m: int) -> float:
            dev = self._floats(lo, m) - mean
            sq = dev * dev
            cubes.append(float(np.dot(sq, dev)))
            return _sum(sq)

        m2 = _pairwise_sum(squares, self.n)
        return mean, m2, math.fsum(cubes)

    def below(self, edges: list, integer: bool) -> np.ndarray:
        """How many values are below each edge (compared as integers, or as float64s)."""
        v = self.values
        if v.dtype.kind == "f" or not (integer or self.exact):
            return np.searchsorted(v, np.asarray(edges, dtype=v.dtype if integer else np.float64))
        # an integer below a float edge e (exactly: |v| <= 2**53) is one below ceil(e)
        info, base = np.iinfo(v.dtype), self.base or 0
        limits = [min(max((e if integer else math.ceil(e)) - base, info.min), info.max) for e in edges]
        return np.searchsorted(v, np.asarray(limits, dtype=v.dtype))


class _Counted:
    """The present values of an integer column as its distinct values (ascending) and their counts."""

    def __init__(self, values: np.ndarray, counts: np.ndarray):
        self.values, self.counts = values, counts
        self.ends = np.cumsum(counts)
        self.n = int(self.ends[-1])

    def at(self, i: int) -> int:
        return self.values[np.searchsorted(self.ends, i, side="right")].item()

    def unique(self) -> int:
        return len(self.values)

    def moments(self) -> tuple[float, float, float]:
        low = int(self.values[0])
        total = low * self.n + int(np.dot(self.counts, self.values - low))  # exact
        mean = total / self.n
        dev = self.values.astype(np.float64) - mean
        weights = self.counts.astype(np.float64)
        sq = dev * dev
        return mean, float(np.dot(weights, sq)), float(np.dot(weights, sq * dev))

    def below(self, edges: list, integer: bool) -> np.ndarray:
        edges = np.asarray(edges, dtype=self.values.dtype if integer else np.float64)
        starts = np.concatenate(([0], self.ends))
        return starts[np.searchsorted(self.values, edges)]


def distinct_sorted(values: np.ndarray) -> int:
    """The number of distinct values in a sorted array, compared SLICE at a time."""
    n, changes = len(values), 0
    for lo in range(0, n - 1, SLICE):
        hi = min(lo + SLICE, n - 1)
        changes += int(np.count_nonzero(values[lo + 1 : hi + 1] != values[lo:hi]))
    return 1 + changes if n else 0


def _sum(values: np.ndarray) -> float:
    """numpy's pairwise sum of `values`, from 0 (np.sum starts from the first element)."""
    return float(np.add.reduce(values, initial=0.0))


def _pairwise_sum(leaf: Callable[[int, int], float], n: int) -> float:
    """The pairwise sum numpy takes over n values, its halves split as numpy splits them down
    to SLICE values, each summed by `leaf(start, length)`: the same figure, bit for bit, as
    summing the whole column at once, without the column-long temporary."""
    if n <= SLICE:
        return leaf(0, n)

    def split(lo: int, m: int) -> float:
        if m <= SLICE:
            return leaf(lo, m)
        half = m // 2
        half -= half % _PAIRWISE_LEAF
        return split(lo, half) + split(lo + half, m - half)

    return split(0, n)


def _quantile(values: _Sorted | _Counted, q: float) -> float:
    """Linear interpolation between the closest ranks (SQL quantile_cont, numpy's default)."""
    n = values.n
    pos = q * (n - 1)
    low = math.floor(pos)
    high = min(low + 1, n - 1)
    x_low, x_high = float(values.at(low)), float(values.at(high))
    return float(x_low + (pos - low) * (x_high - x_low))


def _histogram(values: _Sorted | _Counted, integer: bool, temporal: bool) -> dict:
    """Equal-width bins from min to max, the last one closed; whole-number widths for integers."""
    lo, hi = float(values.at(0)), float(values.at(values.n - 1))
    if integer:
        width = math.ceil((hi - lo + 1) / HISTOGRAM_BINS)
        bins = math.ceil((hi - lo + 1) / width)
        edges = [int(lo) + i * width for i in range(bins + 1)]
    elif hi > lo:
        edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1).tolist()
    else:
        edges = [lo, lo + 1.0]
    positions = values.below(edges, integer)
    positions[-1] = values.n
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
        if present.all():  # every pair of columns shares every row: one product, not four
            pairs += len(data)
            sx += data.sum(axis=0)[:, None]
            sxx += (data * data).sum(axis=0)[:, None]
            sxy += data.T @ data
            continue
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
