"""The datasets API of API.md through the test client: uploads, isolation, versions, undo."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

CSV = b"name,age,income,city\nAda,36,1200.5,Paris\nBob,,2000,Lyon\nCyd,41,,Paris\nDee,29,1500,Nice\n"


def upload(client, headers, content=CSV, filename="people.csv", **form):
    data = {"file": (io.BytesIO(content), filename), **form}
    return client.post("/api/v1/datasets", headers=headers, data=data, content_type="multipart/form-data")


@pytest.fixture
def other_headers(make_user, make_token):
    user_id, _ = make_user("bob@example.com")
    return {"Authorization": f"Bearer {make_token(user_id)}"}


@pytest.fixture
def dataset(client, api_headers):
    r = upload(client, api_headers)
    assert r.status_code == 201, r.json
    return r.json


def stored_files(app):
    return sorted(p.name for p in app.config["DATA_DIR"].rglob("*") if p.is_file())


def test_upload_detects_and_describes_the_dataset(dataset):
    assert dataset["name"] == "people" and dataset["version"] == 1
    assert (dataset["n_rows"], dataset["n_cols"]) == (4, 4)
    assert dataset["dialect"]["delimiter"] == "," and dataset["dialect"]["header"] is True
    kinds = {c["name"]: c["kind"] for c in dataset["columns"]}
    assert kinds["age"] == "integer" and kinds["income"] == "float"
    missing = {c["name"]: c["missing"] for c in dataset["columns"]}
    assert missing == {"name": 0, "age": 1, "income": 1, "city": 0}
    assert set(dataset["repairs"]) == {"rows_repaired", "rows_skipped", "lines"}


def test_upload_logs_how_long_each_step_took(client, api_headers, caplog):
    caplog.set_level("INFO")
    assert upload(client, api_headers).status_code == 201
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("upload: request body of ") and " bytes received in " in m for m in messages)
    assert any(m.startswith("ingest: 4 rows x 4 columns read and typed in ") and "stored and profiled in" in m
               for m in messages)


def test_upload_stores_parquet_under_generated_names(app, client, api_headers):
    r = upload(client, api_headers, filename="../../etc/passwd")
    assert r.status_code == 201
    assert r.json["name"] == "passwd"
    names = stored_files(app)
    assert all("passwd" not in n for n in names)
    assert any(n.endswith(".parquet") for n in names)
    assert not list((app.config["DATA_DIR"] / "uploads").glob("*.part"))


@pytest.mark.parametrize(
    ("content", "filename", "status"),
    [
        (b"", "empty.csv", 422),
        (b"   \n\n  \n", "blank.csv", 422),
        (b"a,b,c\n", "header-only.csv", 422),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image.csv", 415),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "doc.csv", 415),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "prog.csv", 415),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(app, client, api_headers, content, filename, status):
    before = stored_files(app)
    r = upload(client, api_headers, content, filename)
    assert r.status_code == status, r.json
    assert r.json["code"] == status and r.json["message"]
    assert stored_files(app) == before
    assert client.get("/api/v1/datasets", headers=api_headers).json == []


def test_compressed_uploads_are_judged_by_content(client, api_headers):
    assert upload(client, api_headers, gzip.compress(CSV), "people.csv.gz").json["n_rows"] == 4
    assert upload(client, api_headers, gzip.compress(CSV), "misnamed.csv").json["n_rows"] == 4
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner.csv", CSV)
    assert upload(client, api_headers, buffer.getvalue(), "people.zip").json["n_rows"] == 4


def test_zip_with_several_members_is_422(client, api_headers):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", CSV)
        archive.writestr("b.csv", CSV)
    assert upload(client, api_headers, buffer.getvalue(), "two.zip").status_code == 422


def test_body_over_the_limit_is_413_and_leaves_no_file(make_config, make_user, make_token):
    from app import create_app

    app = create_app(make_config(MAX_UPLOAD_MB=1))
    client = app.test_client()
    from app.blueprints.auth import operations as ops
    from app.extensions import db

    with app.app_context():
        user = ops.register_user("big@example.com", "a long enough password")
        _, secret = ops.create_token(user, "t")
        db.session.commit()
    big = b"a,b\n" + b"1,2\n" * 400_000  # 1.6 MB
    r = upload(client, {"Authorization": f"Bearer {secret}"}, big, "big.csv")
    assert r.status_code == 413 and r.json["code"] == 413
    assert not list((app.config["DATA_DIR"] / "uploads").glob("*"))
    bomb = gzip.compress(b"a,b\n" + b"1,2\n" * 1_000_000)  # 4 MB inflated, tiny on the wire
    r = upload(client, {"Authorization": f"Bearer {secret}"}, bomb, "bomb.csv.gz")
    assert r.status_code == 413


def test_upload_with_overrides_and_reparse(client, api_headers):
    content = b"1;2,5;x\n3;4,5;y\n5;6,0;z\n"
    r = upload(client, api_headers, content, "nohead.csv", header="false", delimiter=";", decimal=",")
    assert r.status_code == 201, r.json
    assert [c["name"] for c in r.json["columns"]] == ["column_1", "column_2", "column_3"]
    assert r.json["n_rows"] == 3
    ds = r.json["id"]
    r2 = client.post(f"/api/v1/datasets/{ds}/reparse", headers=api_headers, json={"header": True})
    assert r2.status_code == 201 and r2.json["version"] == 2 and r2.json["n_rows"] == 2
    versions = client.get(f"/api/v1/datasets/{ds}/versions", headers=api_headers).json
    assert [v["version"] for v in versions] == [2, 1]
    first = client.get(f"/api/v1/datasets/{ds}/rows", headers=api_headers, query_string={"version": 1}).json
    assert first["total"] == 3  # earlier versions stay


def test_bad_override_is_422(client, api_headers):
    assert upload(client, api_headers, delimiter="xx").status_code == 422
    assert upload(client, api_headers, header="maybe").status_code == 422


def test_list_paginates_newest_first(client, api_headers):
    ids = [upload(client, api_headers, filename=f"f{i}.csv").json["id"] for i in range(3)]
    r = client.get("/api/v1/datasets", headers=api_headers, query_string={"page": 1, "page_size": 2})
    assert [d["id"] for d in r.json] == ids[::-1][:2]
    import json

    assert json.loads(r.headers["X-Pagination"])["total"] == 3
    assert client.get("/api/v1/datasets", headers=api_headers, query_string={"page_size": 500}).status_code == 422


def test_rename_and_delete(app, client, api_headers, dataset):
    url = f"/api/v1/datasets/{dataset['id']}"
    r = client.patch(url, headers=api_headers, json={"name": "  <b>People</b>  "})
    assert r.status_code == 200 and r.json["name"] == "<b>People</b>"
    assert client.patch(url, headers=api_headers, json={"name": ""}).status_code == 422
    assert client.delete(url, headers=api_headers).status_code == 204
    assert client.get(url, headers=api_headers).status_code == 404
    assert not [n for n in stored_files(app) if n.endswith(".parquet")]


def test_rows_sort_filter_search(client, api_headers, dataset):
    url = f"/api/v1/datasets/{dataset['id']}/rows"
    r = client.get(url, headers=api_headers, query_string={"sort": "age", "order": "desc"}).json
    assert [row["name"] for row in r["rows"]] == ["Cyd", "Ada", "Dee", "Bob"]  # missing last
    r = client.get(url, headers=api_headers, query_string={"filter": ["city:==:Paris"]}).json
    assert r["total"] == 2
    r = client.get(url, headers=api_headers, query_string={"q": "ly"}).json
    assert [row["name"] for row in r["rows"]] == ["Bob"]
    assert client.get(url, headers=api_headers, query_string={"sort": "nope"}).status_code == 422
    assert client.get(url, headers=api_headers, query_string={"limit": 5000}).status_code == 422


def test_profile(client, api_headers, dataset):
    r = client.get(f"/api/v1/datasets/{dataset['id']}/profile", headers=api_headers)
    assert r.status_code == 200
    assert r.json["n_rows"] == 4
    assert {c["name"] for c in r.json["columns"]} == {"name", "age", "income", "city"}


def test_undo_at_version_one_is_409(client, api_headers, dataset):
    r = client.post(f"/api/v1/datasets/{dataset['id']}/undo", headers=api_headers)
    assert r.status_code == 409


ENDPOINTS = [
    ("get", ""), ("patch", ""), ("delete", ""), ("post", "/reparse"), ("get", "/versions"),
    ("get", "/rows"), ("get", "/profile"), ("post", "/operations"), ("get", "/operations"),
    ("post", "/operations/preview"), ("post", "/undo"), ("get", "/download"),
]


@pytest.mark.parametrize(("method", "suffix"), ENDPOINTS)
def test_another_users_dataset_is_404_like_a_missing_one(client, dataset, other_headers, method, suffix):
    body = {"patch": {"name": "x"}, "post": {"op": "drop_columns", "params": {"columns": ["age"]}}}.get(method)
    if suffix == "/reparse":
        body = {"header": True}
    theirs = getattr(client, method)(f"/api/v1/datasets/{dataset['id']}{suffix}", headers=other_headers, json=body)
    missing = getattr(client, method)(f"/api/v1/datasets/99999{suffix}", headers=other_headers, json=body)
    assert theirs.status_code == 404, theirs.json
    assert theirs.json == missing.json


@pytest.mark.parametrize(("method", "suffix"), ENDPOINTS)
def test_anonymous_is_401(client, dataset, method, suffix):
    assert getattr(client, method)(f"/api/v1/datasets/{dataset['id']}{suffix}").status_code == 401


def test_other_users_lists_are_empty(client, dataset, other_headers):
    assert client.get("/api/v1/datasets", headers=other_headers).json == []


def test_account_deletion_removes_datasets_and_files(app, client, api_headers, dataset):
    from tests.conftest import PASSWORD

    assert client.delete("/api/v1/auth/me", headers=api_headers, json={"password": PASSWORD}).status_code == 204
    assert stored_files(app) == [] or all(not n.endswith((".parquet", ".upload")) for n in stored_files(app))
    from app.extensions import db
    from app.models import Dataset, DatasetVersion

    with app.app_context():
        assert db.session.query(Dataset).count() == 0 and db.session.query(DatasetVersion).count() == 0


def test_uploads_are_counted_on_metrics(client, api_headers):
    upload(client, api_headers)
    upload(client, api_headers, b"", "empty.csv")  # refused: not counted
    text = client.get("/metrics").text
    assert "csv_analyzer_uploads_total 1.0" in text
    assert "csv_analyzer_upload_bytes_count 1.0" in text
    assert "csv_analyzer_ingest_duration_seconds_count 1.0" in text


def test_uploads_are_rate_limited_per_user(make_config, make_user, make_token):
    from app import create_app

    app = create_app(make_config(RATELIMIT_ENABLED=True, RATELIMIT_UPLOADS="2/hour"))
    client = app.test_client()
    from app.blueprints.auth import operations as ops
    from app.extensions import db

    with app.app_context():
        secrets = []
        for email in ("one@example.com", "two@example.com"):
            user = ops.register_user(email, "a long enough password")
            secrets.append(ops.create_token(user, "t")[1])
        db.session.commit()
    first, second = ({"Authorization": f"Bearer {s}"} for s in secrets)
    assert [upload(client, first).status_code for _ in range(3)] == [201, 201, 429]
    assert upload(client, second).status_code == 201  # another user has a budget of their own
