"""The table view: pages, sort with missing values last, filters, text search, JSON-safe values."""

import pytest

from app.ml.explore import DatasetFileMissing, InvalidQuery, query_rows, read_kinds


def col(result, name):
    return [r[name] for r in result["rows"]]


def test_first_page_in_file_order_with_positions(people):
    out = query_rows(people, limit=3)
    assert out["total"] == 8
    assert out["offset"] == 0 and out["limit"] == 3
    assert out["columns"] == ["id", "age", "income", "member", "city", "joined", "note"]
    assert col(out, "id") == ["a1", "a2", "a3"]
    assert col(out, "_row") == [0, 1, 2]


def test_offset_past_the_end_gives_no_rows(people):
    out = query_rows(people, offset=6, limit=5)
    assert col(out, "_row") == [6, 7]
    assert query_rows(people, offset=100)["rows"] == []


def test_values_are_json_safe(people):
    rows = query_rows(people)["rows"]
    assert rows[2]["income"] is None  # NaN
    assert rows[3]["income"] is None  # null
    assert rows[0]["joined"] == "2020-01-05T00:00:00"
    assert rows[0]["age"] == 30 and isinstance(rows[0]["age"], int)


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_missing_values_sort_last_in_both_orders(people, order):
    ages = col(query_rows(people, sort="age", order=order), "age")
    assert ages[-2:] == [None, None]
    assert ages[:6] == sorted(ages[:6], reverse=order == "desc")
    incomes = col(query_rows(people, sort="income", order=order), "income")
    assert incomes[-2:] == [None, None]  # NaN counts as missing too
    assert incomes[:6] == sorted(incomes[:6], reverse=order == "desc")


def test_sort_ties_keep_file_order_and_rows_keep_their_position(people):
    out = query_rows(people, sort="age")
    assert col(out, "age")[:2] == [25, 25]
    assert col(out, "_row")[:2] == [2, 4]


def test_sort_text_and_dates(people):
    assert col(query_rows(people, sort="city", order="desc"), "city")[:3] == [
        "paris",
        "Paris",
        "Paris",
    ]
    joined = col(query_rows(people, sort="joined"), "joined")
    assert joined[0].startswith("2019-06-01") and joined[-1] is None


def test_sorted_page_with_offset(people):
    out = query_rows(people, sort="age", offset=2, limit=2)
    assert col(out, "age") == [30, 33]
    assert out["total"] == 8


@pytest.mark.parametrize(
    ("spec", "ids"),
    [
        ("age:==:25", ["a3", "a5"]),
        ("age:>:30", ["a4", "a6", "a8"]),
        ("age:<=:30", ["a1", "a3", "a5"]),
        ("age:!=:25", ["a1", "a2", "a4", "a6", "a7", "a8"]),  # missing kept by !=
        ("income:>=:1200", ["a2", "a6", "a7"]),
        ("income:is_missing", ["a3", "a4"]),
        ("income:not_missing", ["a1", "a2", "a5", "a6", "a7", "a8"]),
        ("city:==:Paris", ["a1", "a8"]),
        ("city:contains:PAR", ["a1", "a3", "a8"]),
        ("member:==:no", ["a2", "a6"]),
        ("joined:<:2020-01-01", ["a2", "a5"]),
        ("note:contains:%", []),
        ("note:contains:_", []),
    ],
)
def test_filters(people, spec, ids):
    out = query_rows(people, filters=[spec])
    assert col(out, "id") == ids
    assert out["total"] == len(ids)


def test_filters_combine_and_sort(people):
    out = query_rows(people, filters=["city:==:Lyon", "age:not_missing"], sort="age", order="desc")
    assert col(out, "id") == ["a6"]
    assert out["total"] == 1


def test_column_name_with_colon(make_version):
    path = make_version({"a:b": [1, 2, 3]}, {"a:b": "integer"})
    assert col(query_rows(path, filters=["a:b:>=:2"]), "a:b") == [2, 3]


def test_text_search_is_case_insensitive_across_columns(people):
    out = query_rows(people, q="PARIS")
    assert col(out, "id") == ["a1", "a3", "a8"]
    assert col(query_rows(people, q="hello"), "id") == ["a2"]
    assert col(query_rows(people, q="a7"), "id") == ["a7"]


def test_text_search_numbers_and_dates(people):
    assert col(query_rows(people, q="25"), "id") == ["a3", "a5"]
    assert col(query_rows(people, q="2019"), "id") == ["a2", "a5"]
    assert col(query_rows(people, q="2020-07"), "id") == ["a7"]


def test_search_with_filter_and_sort(people):
    out = query_rows(people, q="lyon", filters=["age:not_missing"], sort="income", order="desc")
    assert col(out, "id") == ["a6"]
    assert out["total"] == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sort": "nope"}, "sort"),
        ({"order": "up"}, "order"),
        ({"limit": 5000}, "limit"),
        ({"offset": -1}, "offset"),
        ({"filters": ["nope:==:1"]}, "filter"),
        ({"filters": ["age:~:1"]}, "filter"),
        ({"filters": ["age:>:old"]}, "filter"),
        ({"filters": ["joined:>:yesterday"]}, "filter"),
        ({"filters": ["age:>"]}, "filter"),
    ],
)
def test_invalid_queries_are_422(people, kwargs, field):
    with pytest.raises(InvalidQuery) as err:
        query_rows(people, **kwargs)
    assert err.value.status == 422
    assert field in err.value.errors


def test_missing_file_is_404(tmp_path):
    with pytest.raises(DatasetFileMissing) as err:
        query_rows(tmp_path / "gone.parquet")
    assert err.value.status == 404


def test_write_version_is_atomic_and_keeps_kinds(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from app.ml.explore.dataset_file import write_version

    dest = tmp_path / "v2.parquet"
    write_version(
        pa.table({"a": [1, 2], "b": ["x", None]}), {"a": "integer", "b": "categorical"}, dest
    )
    assert read_kinds(dest) == {"a": "integer", "b": "categorical"}
    assert query_rows(dest)["rows"] == [
        {"a": 1, "b": "x", "_row": 0},
        {"a": 2, "b": None, "_row": 1},
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v2.parquet"]
    meta = pq.read_metadata(dest)  # a page index, as ingest writes (see PAGE_SIZE)
    assert all(meta.row_group(0).column(j).has_offset_index for j in range(meta.num_columns))
