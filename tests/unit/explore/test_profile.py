"""profile_dataset: the /profile shape, exact statistics and the beginner warnings."""

import datetime as dt
import json
import statistics

import pytest

from app.ml.profile import profile_dataset


def by_name(profile):
    return {c["name"]: c for c in profile["columns"]}


def codes(profile, column=None):
    return {w["code"] for w in profile["warnings"] if w.get("column") == column}


def test_shape_and_counts(people):
    p = profile_dataset(people)
    assert set(p) == {"n_rows", "n_cols", "duplicated_rows", "columns", "correlations", "warnings"}
    assert (p["n_rows"], p["n_cols"], p["duplicated_rows"]) == (8, 7, 0)
    cols = by_name(p)
    assert [c["name"] for c in p["columns"]] == list(cols)
    assert {k: (cols[k]["missing"], cols[k]["unique"]) for k in cols} == {
        "id": (0, 8),
        "age": (2, 5),
        "income": (2, 6),
        "member": (1, 2),
        "city": (1, 4),
        "joined": (2, 6),
        "note": (1, 7),
    }
    assert cols["age"]["kind"] == "integer" and cols["member"]["kind"] == "boolean"
    json.dumps(p, allow_nan=False)  # strictly JSON-safe


def test_numeric_stats_are_exact(people):
    stats = by_name(profile_dataset(people))["income"]["stats"]
    values = [1000.5, 2500.0, 800.0, 4000.25, 1200.0, -50.0]
    assert stats["min"] == -50.0 and stats["max"] == 4000.25
    assert stats["mean"] == pytest.approx(statistics.mean(values))
    assert stats["median"] == pytest.approx(statistics.median(values))
    assert stats["std"] == pytest.approx(statistics.stdev(values))
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    assert stats["q1"] == pytest.approx(q1) and stats["q3"] == pytest.approx(q3)


def test_histograms_and_top_values(people):
    cols = by_name(profile_dataset(people))
    hist = cols["income"]["histogram"]
    assert len(hist["edges"]) == len(hist["counts"]) + 1
    assert sum(hist["counts"]) == 6
    assert hist["edges"][0] == -50.0 and hist["edges"][-1] == pytest.approx(4000.25)
    ages = cols["age"]["histogram"]
    assert sum(ages["counts"]) == 6 and all(isinstance(e, int) for e in ages["edges"])
    dates = cols["joined"]["histogram"]
    assert sum(dates["counts"]) == 6 and dates["edges"][0] == "2019-06-01T00:00:00"
    assert cols["member"]["top_values"] == [
        {"value": "yes", "count": 5},
        {"value": "no", "count": 2},
    ]
    assert cols["city"]["top_values"][0] == {"value": "Lyon", "count": 3}
    assert "histogram" not in cols["note"] and "top_values" not in cols["note"]
    assert cols["note"]["stats"]["max_length"] == 11
    assert cols["joined"]["stats"]["min"] == "2019-06-01T00:00:00"


def test_correlations(make_version):
    path = make_version(
        {"x": [1, 2, 3, 4], "y": [2.0, 4.0, 6.0, 8.0], "z": [4, 3, 2, 1], "k": [5, 5, 5, 5]},
        {"x": "integer", "y": "float", "z": "integer", "k": "integer"},
    )
    corr = profile_dataset(path)["correlations"]
    assert corr["columns"] == ["x", "y", "z", "k"]
    m = corr["matrix"]
    assert m[0][1] == pytest.approx(1.0) and m[0][2] == pytest.approx(-1.0)
    assert m[0][3] is None and m[3][3] is None  # a constant column has no correlation


def test_duplicated_rows(make_version):
    path = make_version(
        {"a": [1, 1, 2, 1], "b": ["x", "x", "x", "x"]}, {"a": "integer", "b": "categorical"}
    )
    p = profile_dataset(path)
    assert p["duplicated_rows"] == 2
    assert "duplicated_rows" in codes(p)


def test_warnings(make_version, monkeypatch):
    n = 40
    path = make_version(
        {
            "const": ["same"] * n,
            "code": [f"r{i}" for i in range(n)],
            "mostly_gone": [1.0] * 5 + [None] * (n - 5),
            "cat": [f"c{i}" for i in range(n // 2)] * 2,
            "skewed": [i % 4 for i in range(n - 1)] + [1000],
            "target": ["yes"] * 2 + ["no"] * (n - 2),
            "fine": [i % 3 for i in range(n)],
        },
        {
            "const": "categorical",
            "code": "text",
            "mostly_gone": "float",
            "cat": "categorical",
            "skewed": "integer",
            "target": "boolean",
            "fine": "integer",
        },
    )
    monkeypatch.setattr("app.ml.explore.profile_warnings.HIGH_CARDINALITY", 10)
    p = profile_dataset(path)
    assert "constant_column" in codes(p, "const")
    assert "id_like" in codes(p, "code")
    assert "mostly_missing" in codes(p, "mostly_gone")
    assert "high_cardinality" in codes(p, "cat")
    assert "skewed" in codes(p, "skewed")
    assert "imbalanced" in codes(p, "target")
    assert codes(p, "fine") == set()
    assert all(w["message"] and "_" not in w["message"].split("“")[0] for w in p["warnings"])


def test_empty_and_tiny_files(make_version):
    path = make_version({"a": [], "b": []}, {"a": "integer", "b": "text"})
    p = profile_dataset(path)
    assert p["n_rows"] == 0 and p["duplicated_rows"] == 0
    assert by_name(p)["a"]["unique"] == 0 and "histogram" not in by_name(p)["a"]
    path = make_version({"d": [dt.datetime(2020, 1, 1)]}, {"d": "datetime"})
    p = profile_dataset(path)
    assert by_name(p)["d"]["histogram"]["counts"] == [1]


def test_integer_id_is_not_correlated(make_version):
    import pyarrow as pa

    path = make_version(
        {
            "code": list(range(30)),
            "x": [float(i % 5) for i in range(30)],
            "y": [i % 3 for i in range(30)],
        },
        {"code": "id", "x": "float", "y": "integer"},
        types={"code": pa.int64()},
    )
    p = profile_dataset(path)
    assert p["correlations"]["columns"] == ["x", "y"]
    assert by_name(p)["code"]["unique"] == 30 and by_name(p)["code"]["stats"]["max"] == 29
    assert "id_like" in codes(p, "code")


def test_arrow_booleans_are_profiled_as_text(make_version):
    import pyarrow as pa

    from app.ml.explore import query_rows

    path = make_version({"b": [True, False, True, None]}, {"b": "boolean"}, types={"b": pa.bool_()})
    col = by_name(profile_dataset(path))["b"]
    assert (col["missing"], col["unique"]) == (1, 2)
    assert col["top_values"][0] == {"value": True, "count": 2}
    assert [r["b"] for r in query_rows(path, q="tru")["rows"]] == [True, True]


def test_profile_of_the_table_in_memory_is_the_files(people, make_version):
    """profile_table (the ingest's, on Arrow kernels) gives what profile_dataset reads from the file."""
    import pyarrow.parquet as pq

    from app.ml.profile import profile_table

    edge = make_version(
        {"empty": [None] * 25, "tied": [f"v{i % 12}" for i in range(24)] + ["v0"],
         "long": [f"word {i} " * 3 for i in range(25)], "n": list(range(25))},
        {"empty": "categorical", "tied": "categorical", "long": "text", "n": "integer"},
    )
    for path in (people, edge):
        from_file = json.dumps(profile_dataset(path), sort_keys=True)
        # the ingest profiles on one thread beside the Parquet writer; any number gives the same
        for workers in (1, 4):
            in_memory = profile_table(pq.read_table(path), workers=workers)
            assert json.dumps(in_memory, sort_keys=True) == from_file
