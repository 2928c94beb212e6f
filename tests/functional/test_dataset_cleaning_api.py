"""Cleaning over the API: operations as versions, preview, history, undo, downloads."""

from __future__ import annotations

import csv
import io

import pytest

from tests.functional.test_datasets_api import upload

CSV = (b"name,age,city,note\n"
       b"Ada,36,Paris,=SUM(A1)\n"
       b"Bob,,Lyon,+33 1 23\n"
       b"Cyd,41,Paris,-5\n"
       b"Ada,36,Paris,=SUM(A1)\n"
       b"Eve,-7,  Nice ,@home\n")


@pytest.fixture
def ds(client, api_headers):
    r = upload(client, api_headers, CSV, "people.csv")
    assert r.status_code == 201, r.json
    return r.json["id"]


def op(client, headers, ds, name, **params):
    return client.post(f"/api/v1/datasets/{ds}/operations", headers=headers, json={"op": name, "params": params})


def rows(client, headers, ds, **query):
    return client.get(f"/api/v1/datasets/{ds}/rows", headers=headers, query_string=query).json


def test_operation_makes_a_version_and_undo_goes_back(client, api_headers, ds):
    r = op(client, api_headers, ds, "drop_duplicates")
    assert r.status_code == 201 and r.json["version"] == 2 and r.json["n_rows"] == 4
    r = op(client, api_headers, ds, "drop_columns", columns=["note"])
    assert r.json["version"] == 3 and [c["name"] for c in r.json["columns"]] == ["name", "age", "city"]
    history = client.get(f"/api/v1/datasets/{ds}/operations", headers=api_headers).json
    assert [(h["version"], h["op"]) for h in history] == [(3, "drop_columns"), (2, "drop_duplicates"), (1, "upload")]
    r = client.post(f"/api/v1/datasets/{ds}/undo", headers=api_headers)
    assert r.status_code == 200 and r.json["version"] == 2 and r.json["n_cols"] == 4
    assert client.get(f"/api/v1/datasets/{ds}", headers=api_headers).json["version"] == 2
    # the undone version is gone
    assert client.get(f"/api/v1/datasets/{ds}/rows", headers=api_headers,
                      query_string={"version": 3}).status_code == 404
    assert client.post(f"/api/v1/datasets/{ds}/undo", headers=api_headers).json["version"] == 1
    assert client.post(f"/api/v1/datasets/{ds}/undo", headers=api_headers).status_code == 409


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("no_such_op", {}),
        ("drop_columns", {"columns": ["missing_column"]}),
        ("drop_columns", {"columns": 5}),
        ("cast", {"column": "age", "to": "spaceship"}),
        ("fill_missing", {"columns": ["age"], "strategy": "constant"}),
        ("filter_rows", {"column": "age", "operator": "~~", "value": 3}),
        ("rename_columns", {"mapping": {"age": "name"}}),
        ("drop_rows", {"row_numbers": [99]}),
    ],
)
def test_invalid_operations_are_422_and_change_nothing(app, client, api_headers, ds, name, params):
    before = sorted(p.name for p in app.config["DATA_DIR"].rglob("*.parquet"))
    r = op(client, api_headers, ds, name, **params)
    assert r.status_code == 422, r.json
    assert r.json["message"]
    assert client.get(f"/api/v1/datasets/{ds}", headers=api_headers).json["version"] == 1
    assert sorted(p.name for p in app.config["DATA_DIR"].rglob("*.parquet")) == before


def test_preview_shows_the_effect_without_applying(client, api_headers, ds):
    r = client.post(f"/api/v1/datasets/{ds}/operations/preview", headers=api_headers,
                    json={"op": "filter_rows", "params": {"column": "city", "operator": "==", "value": "Paris"}})
    assert r.status_code == 200
    assert (r.json["rows_before"], r.json["rows_after"]) == (5, 3)
    assert len(r.json["rows"]) == 3
    assert client.get(f"/api/v1/datasets/{ds}", headers=api_headers).json["version"] == 1


def test_drop_rows_uses_unsorted_positions(client, api_headers, ds):
    first = rows(client, api_headers, ds, sort="name", order="desc")["rows"][0]
    assert first["name"] == "Eve"
    op(client, api_headers, ds, "drop_rows", row_numbers=[first["_row"]])
    assert "Eve" not in [r["name"] for r in rows(client, api_headers, ds)["rows"]]


def test_fill_trim_replace_cast(client, api_headers, ds):
    assert op(client, api_headers, ds, "fill_missing", columns=["age"], strategy="median").status_code == 201
    assert rows(client, api_headers, ds)["rows"][1]["age"] == 36
    assert op(client, api_headers, ds, "trim_text", columns=["city"]).status_code == 201
    assert rows(client, api_headers, ds)["rows"][4]["city"] == "Nice"
    assert op(client, api_headers, ds, "replace_values", column="city", mapping={"Paris": "PAR"}).status_code == 201
    assert rows(client, api_headers, ds, filter=["city:==:PAR"])["total"] == 3
    r = op(client, api_headers, ds, "cast", column="age", to="float")
    assert {c["name"]: c["kind"] for c in r.json["columns"]}["age"] == "float"


def test_csv_download_neutralises_formulas_but_not_numbers(client, api_headers, ds):
    r = client.get(f"/api/v1/datasets/{ds}/download", headers=api_headers)
    assert r.status_code == 200
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(r.data.decode("utf-8"))))
    assert table[0] == ["name", "age", "city", "note"]
    notes = [row[3] for row in table[1:]]
    assert notes == ["'=SUM(A1)", "'+33 1 23", "-5", "'=SUM(A1)", "'@home"] or notes[2] == "'-5"
    assert [row[1] for row in table[1:]][4] == "-7"  # a negative number stays a number
    assert int(r.headers["X-Formula-Cells-Escaped"]) >= 4


def test_parquet_download_of_an_older_version(client, api_headers, ds):
    import pyarrow.parquet as pq

    op(client, api_headers, ds, "drop_columns", columns=["note"])
    r = client.get(f"/api/v1/datasets/{ds}/download", headers=api_headers,
                   query_string={"format": "parquet", "version": 1})
    assert r.status_code == 200 and "-v1.parquet" in r.headers["Content-Disposition"]
    assert pq.read_table(io.BytesIO(r.data)).num_columns == 4
    assert client.get(f"/api/v1/datasets/{ds}/download", headers=api_headers,
                      query_string={"format": "xlsx"}).status_code == 422
