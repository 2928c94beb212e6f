"""Fixed-bucket latency histograms: observe, merge, and estimate percentiles (no Flask here).

Bucket i counts durations in (LATENCY_BOUNDS_MS[i-1], LATENCY_BOUNDS_MS[i]]; the last bucket
counts everything above the last bound. Percentiles interpolate linearly inside the bucket
that holds the rank, as Prometheus' histogram_quantile does; the overflow bucket reaches up
to the largest duration seen.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field

LATENCY_BOUNDS_MS = (1, 2.5, 5, 10, 25, 50, 75, 100, 150, 250, 400, 500, 750, 1000, 1500, 2500, 5000, 10000, 30000)
N_BUCKETS = len(LATENCY_BOUNDS_MS) + 1


def bucket_index(ms: float) -> int:
    """The bucket of a duration (bounds are inclusive upper limits)."""
    return bisect_left(LATENCY_BOUNDS_MS, ms)


@dataclass
class Histogram:
    """Counts per bucket, with the total, the sum and the maximum of what was observed."""

    buckets: list[int] = field(default_factory=lambda: [0] * N_BUCKETS)
    count: int = 0
    sum_ms: float = 0.0
    max_ms: float = 0.0

    def observe(self, ms: float) -> None:
        ms = max(0.0, float(ms))
        self.buckets[bucket_index(ms)] += 1
        self.count += 1
        self.sum_ms += ms
        self.max_ms = max(self.max_ms, ms)

    def add(self, buckets: Iterable[int], count: int, sum_ms: float, max_ms: float) -> None:
        """Merge another histogram's stored figures (a shorter stored list counts as zeros)."""
        for i, n in enumerate(list(buckets)[:N_BUCKETS]):
            self.buckets[i] += int(n or 0)
        self.count += int(count or 0)
        self.sum_ms += float(sum_ms or 0.0)
        self.max_ms = max(self.max_ms, float(max_ms or 0.0))

    def merge(self, other: Histogram) -> None:
        self.add(other.buckets, other.count, other.sum_ms, other.max_ms)

    def percentile(self, q: float) -> float | None:
        return percentile(self.buckets, q, self.max_ms)

    @property
    def mean_ms(self) -> float | None:
        return self.sum_ms / self.count if self.count else None


def percentile(buckets: list[int], q: float, max_ms: float = 0.0) -> float | None:
    """The q-quantile (0 < q <= 1) in milliseconds estimated from bucket counts; None when empty."""
    total = sum(buckets)
    if total <= 0:
        return None
    rank = q * total
    cumulative = 0
    for i, n in enumerate(buckets):
        if n and cumulative + n >= rank:
            lower = LATENCY_BOUNDS_MS[i - 1] if i > 0 else 0.0
            upper = LATENCY_BOUNDS_MS[i] if i < len(LATENCY_BOUNDS_MS) else max(max_ms, lower)
            if max_ms and lower <= max_ms < upper:
                upper = max_ms  # nothing observed above the maximum
            return lower + (upper - lower) * (rank - cumulative) / n
        cumulative += n
    return max_ms or float(LATENCY_BOUNDS_MS[-1])
