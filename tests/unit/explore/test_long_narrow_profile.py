"""Number and date statistics of a long, narrow table: computed slice by slice on a narrow sorted
copy (uint32 offsets) or on per-value counts, they are the figures of the whole column sorted at
once in numpy, and the in-memory profile is the file's."""

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from app.ml.explore import numeric_profile
from app.ml.explore.dataset_file import schema_layout
from app.ml.profile import profile_dataset, profile_table

ROWS = numeric_profile.SLICE + 12_345  # more than one slice: pairwise sums split as numpy splits them


def long_table() -> pa.Table:
    rng = np.random.default_rng(7)
    digits = rng.integers(0, 10, ROWS)  # counted
    wide = rng.integers(-5_000_000, 50_000_000, ROWS)  # sorted as uint32 offsets
    big = rng.integers(-(10**15), 10**15, ROWS)  # sorted as int64
    score = rng.normal(3.0, 40.0, ROWS)
    score[rng.random(ROWS) < 0.01] = np.nan
    score[:3] = [np.inf, -np.inf, -0.0]
    seen = 1_700_000_000_000_000 + rng.integers(0, 10**12, ROWS)
    missing = rng.random(ROWS) < 0.05
    half = ROWS // 3  # several chunks, of uneven length
    columns = {
        "digits": pa.chunked_array([pa.array(digits[:half]), pa.array(digits[half:])]),
        "wide": pa.chunked_array([pa.array(wide[:half], mask=missing[:half]),
                                  pa.array(wide[half:], mask=missing[half:])]),
        "big": pa.array(big),
        "score": pa.array(score, mask=missing),
        "seen": pa.array(seen.astype("datetime64[us]"), mask=missing),
        # text: lengths in characters, slice by slice
        "code": pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), pc.binary_join_element_wise(
            pa.array(digits).cast(pa.string()), pa.array(wide).cast(pa.string()), "é")),
    }
    kinds = {"digits": "integer", "wide": "integer", "big": "id", "score": "float", "seen": "datetime",
             "code": "text"}
    return pa.table(columns).replace_schema_metadata({b"csv_analyzer.kinds": json.dumps(kinds).encode()})


@pytest.fixture(scope="module")
def table():
    return long_table()


def reference(column: pa.ChunkedArray, temporal: bool) -> np.ndarray:
    """The present values sorted at once, as the profile sorted them before it went slice by slice."""
    if temporal:
        column = column.cast(pa.int64())
    values = column.drop_null().to_numpy()
    values = np.sort(values)
    if values.dtype.kind == "f":
        values = values[np.isfinite(values)]
    return values


@pytest.mark.parametrize("name", ["digits", "wide", "big", "score", "seen"])
def test_statistics_are_the_whole_sorted_columns(table, name):
    lay = schema_layout(table.schema, table.num_rows)
    got = numeric_profile.column_stats(table, lay, name)
    values = reference(table.column(name), lay.is_temporal(name))
    n = len(values)
    assert got["count"] == n and got["unique"] == len(np.unique(values))
    edges = got["histogram"]["edges"]
    if lay.is_temporal(name):
        assert got["stats"]["min"] == numeric_profile._datetime(values[0])
        assert got["stats"]["median"] == numeric_profile._datetime(values[(n - 1) // 2])
        assert edges[0] == got["stats"]["min"]
    else:
        stats = got["stats"]
        assert (stats["min"], stats["max"]) == (values[0].item(), values[-1].item())
        x = values.astype(np.float64)
        q1, median, q3 = np.quantile(x, [0.25, 0.5, 0.75])
        assert (stats["q1"], stats["median"], stats["q3"]) == (q1, median, q3)
        mean = float(x.mean())
        std = math.sqrt(float(((x - mean) ** 2).sum()) / (n - 1))
        if name == "digits":  # from per-value counts: rounded otherwise, not summed in numpy's order
            assert stats["mean"] == pytest.approx(mean, rel=1e-15)
            assert stats["std"] == pytest.approx(std, rel=1e-14)
        else:
            assert (stats["mean"], stats["std"]) == (mean, std)
        dev = x - mean
        skew = float(np.mean(dev**3)) / float(np.mean(dev**2)) ** 1.5 * math.sqrt(n * (n - 1)) / (n - 2)
        assert stats["skew"] == pytest.approx(skew, rel=1e-6, abs=1e-12)
        cut = np.asarray(edges, dtype=values.dtype if lay.kinds[name] == "integer" else np.float64)
        positions = np.searchsorted(values, cut)
        positions[-1] = n
        assert got["histogram"]["counts"] == np.diff(positions).tolist()
    assert sum(got["histogram"]["counts"]) == n


def test_long_narrow_table_in_memory_profile_is_the_files(table, tmp_path):
    path = tmp_path / "long.parquet"
    pq.write_table(table, path, row_group_size=122_880)
    in_memory, stored = profile_table(table), profile_dataset(path)
    for profile in (in_memory, stored):  # correlations are accumulated in other batches
        profile["correlations"]["matrix"] = np.round(profile["correlations"]["matrix"], 9).tolist()
    assert json.dumps(in_memory, sort_keys=True) == json.dumps(stored, sort_keys=True)
    assert in_memory["n_rows"] == ROWS and in_memory["duplicated_rows"] == 0


def test_duplicated_rows_of_a_long_table(tmp_path):
    """Row hashes are streamed and sorted, not counted in a SQL hash table: the same figure."""
    from app.ml.profile import HASH_BATCH

    rows = HASH_BATCH + 100_000
    i = np.arange(rows)
    parity = pa.array(i % 2).cast(pa.string())
    code = pc.if_else(pa.array(i % 7 == 0), pa.scalar(None, pa.string()), parity)
    # a row equals the one 500,000 later unless one of them misses its code
    table = pa.table({"n": pa.array(i % 500_000), "code": code})
    expected = rows - len(table.group_by(["n", "code"]).aggregate([]))
    path = tmp_path / "dups.parquet"
    pq.write_table(table, path)
    assert profile_table(table)["duplicated_rows"] == expected == profile_dataset(path)["duplicated_rows"]
    assert expected > 0


@pytest.mark.parametrize(("values", "expected"), [
    (["a", "b", None, "a", None, "c", "b"], 3),  # one column: repeats as its values (a missing one once)
    ([1, 2, None, 1, None, 3], 2),
    ([1.5, float("nan"), float("nan"), float("inf"), 1.5, None, None], 3),  # floats: hashed rows
])
def test_duplicated_rows_of_one_column(tmp_path, values, expected):
    table = pa.table({"x": values})
    path = tmp_path / "one.parquet"
    pq.write_table(table, path)
    assert profile_table(table)["duplicated_rows"] == expected == profile_dataset(path)["duplicated_rows"]
