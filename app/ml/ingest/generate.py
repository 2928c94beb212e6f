"""A reproducible mixed CSV for the ingest benchmark (1,000,000 x 20 is about 150 MB).

Columns: an id, integers, floats (some missing), categories, booleans (yes/no and
true/false), dates and date-times, a short and a longer free-text column.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "river", "stone", "cloud", "maple", "cedar", "harbor", "meadow", "summit", "canyon", "prairie"]
CITIES = ["Berlin", "Paris", "Madrid", "Rome", "Lisbon", "Vienna", "Prague", "Oslo", "Dublin", "Athens"]
PLANS = ["free", "basic", "pro", "enterprise"]
COLOURS = ["red", "green", "blue", "yellow", "black", "white", "orange", "purple"]
SEGMENTS = [f"segment_{i:02d}" for i in range(40)]


def _with_missing(rng, arr: pa.Array, share: float) -> pa.Array:
    mask = pa.array(rng.random(len(arr)) < share)
    return pc.if_else(mask, pa.scalar(None, arr.type), arr)


def _phrases(rng, n: int, words: int, vocab: int = 5000) -> pa.Array:
    """`n` phrases drawn from a vocabulary of `vocab` random `words`-word phrases."""
    pool = np.array([
        " ".join(rng.choice(WORDS, size=rng.integers(max(1, words - 2), words + 3)))
        for _ in range(vocab)
    ])
    return pa.array(pool[rng.integers(0, vocab, n)])


def mixed_table(n_rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    base = np.datetime64("2015-01-01")
    days = rng.integers(0, 3650, n_rows)
    seconds = rng.integers(0, 86400, n_rows)
    cols = {
        "customer_id": pa.array(np.arange(1, n_rows + 1)),
        "age": _with_missing(rng, pa.array(rng.integers(18, 90, n_rows)), 0.02),
        "visits": pa.array(rng.poisson(12, n_rows)),
        "items": pa.array(rng.integers(-500, 50_000, n_rows)),
        "income": _with_missing(rng, pa.array(np.round(rng.lognormal(10, 0.6, n_rows), 2)), 0.05),
        "score": pa.array(np.round(rng.normal(0, 1, n_rows), 4)),
        "ratio": pa.array(np.round(rng.random(n_rows), 4)),
        "balance": _with_missing(rng, pa.array(np.round(rng.normal(1000, 400, n_rows), 2)), 0.01),
        "city": pa.array(np.array(CITIES)[rng.integers(0, len(CITIES), n_rows)]),
        "plan": pa.array(np.array(PLANS)[rng.integers(0, len(PLANS), n_rows)]),
        "colour": _with_missing(rng, pa.array(np.array(COLOURS)[rng.integers(0, len(COLOURS), n_rows)]), 0.03),
        "segment": pa.array(np.array(SEGMENTS)[rng.integers(0, len(SEGMENTS), n_rows)]),
        "active": pa.array(np.where(rng.random(n_rows) < 0.6, "yes", "no")),
        "churned": pa.array(np.where(rng.random(n_rows) < 0.2, "true", "false")),
        "signup_date": pa.array((base + days.astype("timedelta64[D]")).astype(str)),
        "last_seen": pa.array(
            (base + days.astype("timedelta64[D]") + seconds.astype("timedelta64[s]")).astype(str)
        ),
        "tag": _with_missing(rng, _phrases(rng, n_rows, 2), 0.1),
        "comment": _with_missing(rng, _phrases(rng, n_rows, 4), 0.2),
        "zone": pa.array(rng.integers(1, 6, n_rows)),
        "weight": pa.array(np.round(rng.normal(70, 12, n_rows), 1)),
    }
    cols["last_seen"] = pc.replace_substring(cols["last_seen"], "T", " ")
    return pa.table(cols)


def write_mixed_csv(path, n_rows: int = 1_000_000, seed: int = 0) -> None:
    """Write the benchmark CSV (comma, header, no quotes needed, empty cells for missing)."""
    table = mixed_table(n_rows, seed)
    pacsv.write_csv(table, str(path), pacsv.WriteOptions(quoting_style="none"))
