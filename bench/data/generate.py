"""Generate the 1M x 20 mixed Parquet file the explore benchmarks read (with kinds metadata)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_PATH = (
    Path(os.environ.get("BENCH_DIR", "/tmp/csv_analyzer_bench")) / "explore_1000000.parquet"
)

WORDS = np.array(
    [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
        "mike",
        "november",
        "oscar",
        "papa",
        "quebec",
        "romeo",
        "sierra",
        "tango",
        "uniform",
        "victor",
        "whiskey",
        "xray",
        "yankee",
        "zulu",
    ]
)


def _with_missing(rng, arr: pa.Array, fraction: float) -> pa.Array:
    mask = rng.random(len(arr)) < fraction
    return pa.array(arr.to_numpy(zero_copy_only=False), mask=mask, type=arr.type)


def make_table(n_rows: int = 1_000_000, seed: int = 0) -> tuple[pa.Table, dict[str, str]]:
    """A mixed frame: 5 integer, 6 float, 2 boolean, 3 categorical, 2 datetime, 1 text, 1 id column."""
    rng = np.random.default_rng(seed)
    cols: dict[str, pa.Array] = {}
    kinds: dict[str, str] = {}

    def add(name, arr, kind, missing=0.0):
        cols[name] = _with_missing(rng, arr, missing) if missing else arr
        kinds[name] = kind

    add("customer_id", pa.array([f"C{i:08d}" for i in rng.permutation(n_rows)]), "id")
    add("age", pa.array(rng.integers(18, 90, n_rows)), "integer", 0.02)
    add("visits", pa.array(rng.poisson(3, n_rows).astype(np.int64)), "integer")
    add("items", pa.array(rng.integers(0, 1000, n_rows)), "integer", 0.1)
    add("zip_code", pa.array(rng.integers(10000, 99999, n_rows)), "integer")
    add("year", pa.array(rng.integers(1990, 2025, n_rows)), "integer")
    add("income", pa.array(rng.lognormal(10, 1, n_rows)), "float", 0.05)
    add("score", pa.array(rng.normal(0, 1, n_rows)), "float")
    add("balance", pa.array(rng.normal(1000, 500, n_rows).round(2)), "float", 0.6)
    add("ratio", pa.array(rng.random(n_rows)), "float")
    add("temperature", pa.array(rng.normal(20, 8, n_rows).round(1)), "float", 0.01)
    add("discount", pa.array(rng.choice([0.0, 0.05, 0.1, 0.2], n_rows)), "float")
    add("churned", pa.array(rng.choice(["yes", "no"], n_rows, p=[0.05, 0.95])), "boolean")
    add("member", pa.array(rng.choice(["true", "false"], n_rows)), "boolean", 0.03)
    add(
        "country",
        pa.array(rng.choice(["FR", "DE", "US", "GB", "ES", "IT", "NL"], n_rows)),
        "categorical",
    )
    add(
        "plan",
        pa.array(rng.choice(["free", "basic", "pro", "enterprise"], n_rows)),
        "categorical",
        0.05,
    )
    add(
        "city",
        pa.array(np.char.add("city_", rng.integers(0, 5000, n_rows).astype(str))),
        "categorical",
    )
    start = np.datetime64("2015-01-01T00:00:00", "s")
    add(
        "signup",
        pa.array(start + rng.integers(0, 10 * 365 * 86400, n_rows).astype("timedelta64[s]")),
        "datetime",
    )
    add(
        "last_seen",
        pa.array(start + rng.integers(0, 10 * 365 * 86400, n_rows).astype("timedelta64[s]")),
        "datetime",
        0.2,
    )
    words = WORDS[rng.integers(0, len(WORDS), (n_rows, 4))]
    add("comment", pa.array([" ".join(w) for w in words.tolist()]), "text", 0.1)
    return pa.table(cols), kinds


def write_dataset(path: Path, table: pa.Table, kinds: dict[str, str]) -> Path:
    meta = dict(table.schema.metadata or {})
    meta[b"csv_analyzer.kinds"] = json.dumps(kinds).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def ensure_dataset(path: Path = DEFAULT_PATH, n_rows: int = 1_000_000) -> Path:
    """Reuse the file when present, otherwise generate it (about 20 s)."""
    if not path.exists():
        table, kinds = make_table(n_rows)
        tmp = path.with_suffix(".tmp")
        write_dataset(tmp, table, kinds)
        os.replace(tmp, path)
    return path


if __name__ == "__main__":
    print(ensure_dataset())
