"""The dataset pages through the test client: upload, table, profile, clean, and who may see what."""

from __future__ import annotations

import io
import re

import pytest

from app.blueprints.datasets.operation_forms import operation_from_form, parse_row_numbers
from app.blueprints.datasets.table_query import TableQuery
from app.errors import DomainError
from tests.conftest import csrf_token_from

HX = {"HX-Request": "true"}
TABLE = {**HX, "HX-Target": "dataset-table"}
CSV = ("name,age,city,score\n"
       "Ann,34,Oslo,1.5\n"
       "Bob,,Lima,2.5\n"
       "Cid,51,Oslo,\n"
       "Dee,28,=HYPERLINK(\"x\"),4.0\n")


@pytest.fixture
def user(client, make_user, login):
    make_user()
    login()
    return client


@pytest.fixture
def token(user):
    return csrf_token_from(user.get("/").text)


def upload(client, token, content: str | bytes = CSV, filename: str = "people.csv", htmx: bool = False, **fields):
    data = {"file": (io.BytesIO(content.encode() if isinstance(content, str) else content), filename),
            "csrf_token": token, **fields}
    return client.post("/datasets/upload", data=data, content_type="multipart/form-data",
                       headers=HX if htmx else {})


@pytest.fixture
def dataset_id(user, token):
    r = upload(user, token)
    assert r.status_code == 303
    return int(r.headers["Location"].rsplit("/", 1)[1])


def post_hx(client, url, token, data=None, headers=None):
    return client.post(url, data=data or {}, headers={**HX, "X-CSRFToken": token, **(headers or {})})


def is_page(html: str) -> bool:
    return "<html" in html


# --- home and upload --------------------------------------------------------------------------

def test_home_needs_login_and_shows_the_upload_card(client, user):
    assert client.get("/").status_code == 200
    html = client.get("/").text
    assert "No datasets yet" in html and 'id="upload-form"' in html and 'hx-encoding="multipart/form-data"' in html
    assert "<progress" in html and "Try a sample dataset" in html
    client.post("/auth/logout", data={"csrf_token": csrf_token_from(html)})
    assert client.get("/").status_code == 302


def test_plain_upload_redirects_to_the_table_with_the_dialect(user, token, dataset_id):
    page = user.get(f"/datasets/{dataset_id}")
    assert page.status_code == 200 and is_page(page.text)
    assert "people" in page.text and "comma (,)" in page.text and "utf-8" in page.text.lower()
    assert "of 4" in page.text
    home = user.get("/").text
    assert 'id="dataset-list"' in home and "4 \u00d7 4" in home


def test_htmx_upload_answers_hx_redirect(user, token):
    r = upload(user, token, htmx=True, name="Named by me")
    assert r.status_code == 200 and r.text == ""
    assert re.fullmatch(r"/datasets/\d+", r.headers["HX-Redirect"])
    assert "Named by me" in user.get(r.headers["HX-Redirect"]).text


def test_upload_errors_are_fragments_with_their_status(user, token):
    r = upload(user, token, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "photo.png", htmx=True)
    assert r.status_code == 415 and not is_page(r.text) and "error-message" in r.text
    r = upload(user, token, "a,b\n", htmx=True)
    assert r.status_code == 422 and "no data rows" in r.text.lower()
    r = user.post("/datasets/upload", data={"csrf_token": token}, headers=HX)
    assert r.status_code == 422 and "Choose a file" in r.text
    assert "No datasets yet" in user.get("/").text  # nothing stored


def test_upload_over_the_limit_is_413(make_config, make_user):
    from app import create_app
    from tests.conftest import PASSWORD

    client = create_app(make_config(MAX_UPLOAD_MB=1)).test_client()
    make_user("big@example.com")
    token = csrf_token_from(client.get("/auth/login").text)
    client.post("/auth/login", data={"email": "big@example.com", "password": PASSWORD, "csrf_token": token})
    token = csrf_token_from(client.get("/").text)
    assert 'data-max-bytes="1048576"' in client.get("/").text  # the browser checks first
    r = upload(client, token, "a,b\n" + "1,2\n" * 400_000, htmx=True)
    assert r.status_code == 413 and not is_page(r.text)


def test_upload_without_csrf_is_rejected(user):
    r = user.post("/datasets/upload", data={"file": (io.BytesIO(CSV.encode()), "p.csv")},
                  content_type="multipart/form-data")
    assert r.status_code == 400
    assert "No datasets yet" in user.get("/").text


def test_sample_dataset_loads_the_penguins(user, token):
    r = user.post("/datasets/sample", data={"csrf_token": token})
    assert r.status_code == 303
    page = user.get(r.headers["Location"]).text
    assert "Palmer penguins (sample)" in page and "of 344" in page
    assert "species" in page and "body_mass_g" in page


def test_uploads_are_rate_limited_per_user(make_config, make_user):
    from app import create_app
    from tests.conftest import PASSWORD

    app = create_app(make_config(RATELIMIT_ENABLED=True, RATELIMIT_UPLOADS="2/hour"))
    client = app.test_client()
    make_user("limited@example.com")  # the same instance database as this app
    token = csrf_token_from(client.get("/auth/login").text)
    client.post("/auth/login", data={"email": "limited@example.com", "password": PASSWORD, "csrf_token": token})
    token = csrf_token_from(client.get("/").text)
    assert [upload(client, token).status_code for _ in range(2)] == [303, 303]
    r = upload(client, token, htmx=True)
    assert r.status_code == 429 and "Too many requests" in r.text


# --- the table -------------------------------------------------------------------------------

def test_table_fragment_for_htmx_and_page_otherwise(user, dataset_id):
    url = f"/datasets/{dataset_id}?sort=age&order=desc"
    fragment = user.get(url, headers=TABLE)
    assert fragment.status_code == 200 and not is_page(fragment.text)
    assert fragment.text.lstrip().startswith("<section id=\"dataset-table\"")
    assert "HX-Request" in fragment.headers["Vary"]
    assert fragment.headers["HX-Push-Url"] == f"/datasets/{dataset_id}?sort=age&order=desc"
    names = re.findall(r'<td class="row-number">(\d+)</td>', fragment.text)
    assert names == ["2", "0", "3", "1"]  # 51, 34, 28, then the missing age last
    assert is_page(user.get(url).text)
    assert is_page(user.get(url, headers={**TABLE, "HX-History-Restore-Request": "true"}).text)


def test_table_filter_search_and_kinds(user, dataset_id):
    r = user.get(f"/datasets/{dataset_id}?fcol=city&fop===&fval=Oslo&q=ann", headers=TABLE)
    assert "of 1 matching" in r.text and ">Ann<" in r.text
    assert "filter=city:%3D%3D:Oslo" in r.headers["HX-Push-Url"]
    assert "city equals Oslo" in r.text
    assert 'class="kind kind-integer"' in r.text  # kinds in the header
    bad = user.get(f"/datasets/{dataset_id}?filter=age:>:old", headers=TABLE)
    assert bad.status_code == 422 and not is_page(bad.text) and "is not a number" in bad.text


def test_table_pages_fifty_rows(user, token):
    rows = "\n".join(f"{i},{i * 2}" for i in range(120))
    r = upload(user, token, f"a,b\n{rows}\n")
    url = r.headers["Location"]
    page2 = user.get(url + "?page=2", headers=TABLE).text
    assert "Rows 51\u2013100 of 120" in page2 and "Page 2 of 3" in page2
    assert re.findall(r'<td class="row-number">(\d+)</td>', page2)[0] == "50"


def test_delete_row_makes_a_version_and_refreshes_the_table(user, token, dataset_id):
    r = post_hx(user, f"/datasets/{dataset_id}/rows/1/delete?sort=name&order=asc", token,
                {"version": "1"}, {"HX-Target": "dataset-table"})
    assert r.status_code == 200 and not is_page(r.text)
    assert "Row 1 deleted: this is version 2" in r.text and "of 3" in r.text
    assert ">Bob<" not in r.text
    assert r.headers["HX-Push-Url"] == f"/datasets/{dataset_id}?sort=name&order=asc"
    stale = post_hx(user, f"/datasets/{dataset_id}/rows/0/delete", token, {"version": "1"})
    assert stale.status_code == 409
    old = user.get(f"/datasets/{dataset_id}?version=1").text
    assert ">Bob<" in old and "row-delete" not in old  # older versions are read-only


def test_downloads_escape_formulas(user, dataset_id):
    r = user.get(f"/datasets/{dataset_id}/download?format=csv")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    assert r.headers["X-Formula-Cells-Escaped"] == "1"
    assert "'=HYPERLINK" in r.text
    assert user.get(f"/datasets/{dataset_id}/download?format=parquet").data[:4] == b"PAR1"
    assert "never run as a formula" in user.get(f"/datasets/{dataset_id}").text  # the UI says so


def test_reparse_rename_and_delete(user, token, dataset_id):
    r = user.post(f"/datasets/{dataset_id}/reparse", data={"csrf_token": token, "delimiter": ";", "header": "false"})
    assert r.status_code == 303
    page = user.get(f"/datasets/{dataset_id}").text
    assert "semicolon" in page and "column_1" in page and "version 2" in page
    r = user.post(f"/datasets/{dataset_id}/rename", data={"csrf_token": token, "name": "Renamed set"})
    assert r.status_code == 303 and "Renamed set" in user.get(f"/datasets/{dataset_id}").text
    r = user.post(f"/datasets/{dataset_id}/rename", data={"csrf_token": token, "name": ""})
    assert r.status_code == 422
    r = user.post(f"/datasets/{dataset_id}/delete", data={"csrf_token": token})
    assert r.status_code == 303 and user.get(f"/datasets/{dataset_id}").status_code == 404


# --- profile ---------------------------------------------------------------------------------

def test_profile_page_has_charts_heatmap_and_missing(user, dataset_id):
    html = user.get(f"/datasets/{dataset_id}/profile").text
    assert html.count("data-chart=") >= 3 and 'id="missing-chart"' in html
    assert 'id="correlation-heatmap"' in html and "corr-" in html
    assert "vendor/chart.umd.min.js" in html and "<script>" not in html and "style=" not in html
    assert 'id="duplicated-rows">0<' in html


# --- clean -----------------------------------------------------------------------------------

def test_preview_is_a_fragment_and_changes_nothing(user, token, dataset_id):
    r = post_hx(user, f"/datasets/{dataset_id}/clean/preview", token, {"op": "drop_missing"})
    assert r.status_code == 200 and not is_page(r.text)
    assert re.search(r'preview-rows-after">2<', r.text)
    assert "version 1" in user.get(f"/datasets/{dataset_id}/clean").text


def test_apply_history_and_undo(user, token, dataset_id):
    url = f"/datasets/{dataset_id}"
    r = post_hx(user, url + "/clean/apply", token, {"op": "fill_missing", "columns": ["age"],
                                                     "strategy": "constant", "value": "0"})
    assert r.status_code == 200 and not is_page(r.text) and r.text.lstrip().startswith('<div id="clean-workspace"')
    assert "this is version 2" in r.text and "fill_missing" in r.text
    assert r.headers["HX-Trigger"] == "dataset-changed"  # the header line refreshes itself
    meta = user.get(url + "/meta", headers=HX)
    assert not is_page(meta.text) and "version 2" in meta.text
    assert user.get(url + "/meta").status_code == 302  # no bare fragment outside htmx
    r = post_hx(user, url + "/clean/apply", token, {"op": "json", "json_op": "rename_columns",
                                                     "params": '{"mapping": {"city": "town"}}'})
    assert "this is version 3" in r.text and "town (categorical)" in r.text
    r = post_hx(user, url + "/undo", token)
    assert "back to version 2" in r.text
    r = post_hx(user, url + "/undo", token)
    assert "back to version 1" in r.text
    r = post_hx(user, url + "/undo", token)
    assert r.status_code == 409 and "nothing to undo" in r.text and not is_page(r.text)


def test_invalid_operations_are_422_and_change_nothing(user, token, dataset_id):
    url = f"/datasets/{dataset_id}/clean/apply"
    for data in ({"op": "cast", "column": "city", "to": "integer"},
                 {"op": "drop_columns"},
                 {"op": "json", "json_op": "drop_columns", "params": "{not json"},
                 {"op": "nope"}):
        r = post_hx(user, url, token, data)
        assert r.status_code == 422, data
        assert "error-message" in r.text and not is_page(r.text)
    assert "v2" not in user.get(f"/datasets/{dataset_id}/clean").text


def test_plain_apply_redirects_with_a_flash(user, token, dataset_id):
    r = user.post(f"/datasets/{dataset_id}/clean/apply",
                  data={"csrf_token": token, "op": "drop_columns", "columns": ["score"]})
    assert r.status_code == 303
    assert "Applied drop_columns" in user.get(r.headers["Location"]).text


def test_without_javascript_preview_and_row_delete_still_work(user, token, dataset_id):
    r = user.post(f"/datasets/{dataset_id}/clean/preview", data={"csrf_token": token, "op": "drop_missing"})
    assert r.status_code == 200 and is_page(r.text) and 'id="preview"' in r.text
    r = user.post(f"/datasets/{dataset_id}/rows/0/delete?q=o", data={"csrf_token": token, "version": "1"})
    assert r.status_code == 303 and r.headers["Location"] == f"/datasets/{dataset_id}?q=o"
    assert "Row 0 deleted" in user.get(r.headers["Location"]).text


def test_clean_post_without_csrf_is_400(user, dataset_id):
    r = user.post(f"/datasets/{dataset_id}/clean/apply", data={"op": "drop_columns", "columns": ["age"]}, headers=HX)
    assert r.status_code == 400
    assert user.post(f"/datasets/{dataset_id}/undo").status_code == 400


# --- another user ------------------------------------------------------------------------------

def test_another_user_gets_404_on_every_page(client, user, token, dataset_id, make_user, login):
    client.post("/auth/logout", data={"csrf_token": token})
    make_user("eve@example.com")
    login("eve@example.com")
    eve = csrf_token_from(client.get("/").text)
    base = f"/datasets/{dataset_id}"
    for url in (base, base + "?version=1", base + "/profile", base + "/clean", base + "/download?format=csv"):
        assert client.get(url).status_code == 404, url
    for url in (base + "/rows/0/delete", base + "/reparse", base + "/rename", base + "/delete",
                base + "/clean/preview", base + "/clean/apply", base + "/undo"):
        r = client.post(url, data={"csrf_token": eve, "name": "x", "op": "drop_missing"})
        assert r.status_code == 404, url
    assert client.get("/datasets/999999").status_code == 404


# --- the form helpers ------------------------------------------------------------------------

def test_row_numbers_and_form_operations():
    from werkzeug.datastructures import MultiDict

    assert parse_row_numbers("3, 5, 10-12") == [3, 5, 10, 11, 12]
    with pytest.raises(DomainError):
        parse_row_numbers("three")
    form = MultiDict([("op", "filter_rows"), ("column", "age"), ("operator", "is_missing"), ("value", "x")])
    assert operation_from_form(form) == ("filter_rows", {"column": "age", "operator": "is_missing"})
    form = MultiDict([("op", "replace_values"), ("column", "city"), ("old", "Olso"), ("new", "Oslo")])
    assert operation_from_form(form) == ("replace_values", {"column": "city", "mapping": {"Olso": "Oslo"}})


def test_table_query_round_trips_its_url_arguments():
    from werkzeug.datastructures import MultiDict

    query = TableQuery.from_args(MultiDict([("page", "0"), ("order", "sideways"), ("filter", "a:==:1"),
                                            ("fcol", "b"), ("fop", "is_missing"), ("q", "  x ")]))
    assert query.page == 1 and query.order == "asc" and query.q == "x"
    assert query.filters == ("a:==:1", "b:is_missing")
    assert query.sorted_by("a") == {"sort": "a", "order": "asc", "q": "x", "filter": ["a:==:1", "b:is_missing"]}
    assert TableQuery(sort="a", order="asc").sorted_by("a")["order"] == "desc"
    assert query.without_filter("a:==:1")["filter"] == ["b:is_missing"]


def test_wide_tables_are_shown_in_part(user, token):
    header = ",".join(f"c{i}" for i in range(120))
    rows = "\n".join(",".join(str((i * j) % 7) for i in range(120)) for j in range(1, 5))
    url = upload(user, token, f"{header}\n{rows}\n").headers["Location"]
    html = user.get(url).text
    assert html.count('class="sort-link"') == 100 and "20 more are in the downloads" in html
    assert '<option value="c119">' in html  # every column can still be filtered on
    profile = user.get(url + "/profile").text
    assert "The first 30 numeric columns" in profile and profile.count("data-chart=") == 120  # one per column, no missing values
