"""Latency histograms: bucket edges, merging, and percentiles estimated from the buckets."""

from __future__ import annotations

import random

import pytest

from app.blueprints.monitoring.latency import (
    LATENCY_BOUNDS_MS,
    N_BUCKETS,
    Histogram,
    bucket_index,
    percentile,
)


def test_bounds_are_inclusive_upper_limits():
    assert bucket_index(0) == 0
    assert bucket_index(1) == 0
    assert bucket_index(1.0001) == 1
    assert bucket_index(LATENCY_BOUNDS_MS[-1]) == N_BUCKETS - 2
    assert bucket_index(LATENCY_BOUNDS_MS[-1] + 1) == N_BUCKETS - 1  # the overflow bucket


def test_empty_histogram_has_no_percentile():
    assert Histogram().percentile(0.5) is None
    assert percentile([0] * N_BUCKETS, 0.95) is None


def test_percentile_interpolates_inside_the_bucket_holding_the_rank():
    h = Histogram()
    for _ in range(100):
        h.observe(30)  # all in (25, 50]
    # Rank 50 of 100 in a bucket of 100: halfway from 25 to the maximum seen (30).
    assert h.percentile(0.5) == pytest.approx(27.5)
    assert 25 < h.percentile(0.99) <= 30


def test_percentiles_of_a_known_mix():
    h = Histogram()
    for _ in range(90):
        h.observe(8)  # (5, 10]
    for _ in range(10):
        h.observe(400)  # (250, 400]
    assert 5 < h.percentile(0.5) <= 10
    assert 5 < h.percentile(0.9) <= 10
    assert 250 < h.percentile(0.95) <= 400
    assert h.count == 100 and h.sum_ms == pytest.approx(90 * 8 + 10 * 400) and h.max_ms == 400


def test_overflow_bucket_reaches_the_maximum():
    h = Histogram()
    h.observe(45_000)
    h.observe(60_000)
    assert LATENCY_BOUNDS_MS[-1] < h.percentile(0.5) <= 60_000
    assert h.percentile(1.0) == pytest.approx(60_000)


def test_merging_equals_observing_everything_in_one():
    rng = random.Random(7)
    durations = [rng.lognormvariate(3, 1.2) for _ in range(2000)]
    whole, a, b = Histogram(), Histogram(), Histogram()
    for i, ms in enumerate(durations):
        whole.observe(ms)
        (a if i % 3 else b).observe(ms)
    merged = Histogram()
    merged.merge(a)
    merged.add(b.buckets, b.count, b.sum_ms, b.max_ms)  # as stored rows are summed
    assert merged.buckets == whole.buckets and merged.count == whole.count == 2000
    for q in (0.5, 0.95, 0.99):
        assert merged.percentile(q) == pytest.approx(whole.percentile(q))


def test_estimate_is_within_the_true_value_bucket():
    rng = random.Random(3)
    durations = sorted(rng.uniform(0, 2000) for _ in range(5000))
    h = Histogram()
    for ms in durations:
        h.observe(ms)
    for q in (0.5, 0.95, 0.99):
        true = durations[int(q * len(durations)) - 1]
        i = bucket_index(true)
        lower = LATENCY_BOUNDS_MS[i - 1] if i else 0
        upper = LATENCY_BOUNDS_MS[i] if i < len(LATENCY_BOUNDS_MS) else h.max_ms
        assert lower <= h.percentile(q) <= upper


def test_stored_lists_shorter_than_the_buckets_count_as_zeros():
    h = Histogram()
    h.add([1, 2], 3, 4.0, 2.0)
    assert h.buckets[:3] == [1, 2, 0] and h.count == 3
