"""The hostile-input corpus (tests/security/corpus.py) run end to end through the API.

Each case gets exactly its expected status and message fragment; after a refused one nothing is
stored (no dataset row, no file under DATA_DIR, no temporary upload left behind); an accepted one
passes the case's extra checks (names, escaping, downloads, formulas).
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.functional.test_predictions_api import ROW
from tests.security.conftest import CSV_SMALL, World, count, upload
from tests.security.corpus import PredictionCase, UploadCase, prediction_cases, upload_cases

UPLOADS = upload_cases()
PREDICTIONS = prediction_cases()
STORED = re.compile(r"^datasets/[0-9a-f]{32}/(source\.upload|v\d+\.parquet|v\d+\.profile\.json)$")


def _datasets(world: World) -> int:
    from app.models import Dataset

    return world.count(Dataset)


def _message(r) -> str:
    body = r.json or {}
    return (body.get("message", "") + " " + json.dumps(body.get("errors", {}))).lower()


def _upload(world: World, case: UploadCase, monkeypatch):
    if case.max_upload_mb:
        monkeypatch.setitem(world.app.config, "MAX_UPLOAD_MB", case.max_upload_mb)
        monkeypatch.setitem(world.app.config, "MAX_CONTENT_LENGTH", case.max_upload_mb * 1024 * 1024 + 64 * 1024)
    client = world.app.test_client()
    if case.content_type:
        data = {"file": (io.BytesIO(case.content), case.filename, case.content_type), **case.form}
        return client.post("/api/v1/datasets", headers=world.api("owner"), data=data,
                           content_type="multipart/form-data")
    return upload(client, world.api("owner"), case.content, case.filename, **case.form)


@pytest.mark.parametrize("case", UPLOADS, ids=[c.id for c in UPLOADS])
def test_hostile_upload(world: World, case: UploadCase, monkeypatch):
    rows_before, files_before = _datasets(world), set(world.stored_files())
    r = _upload(world, case, monkeypatch)
    count("hostile inputs tried")
    assert r.status_code == case.status, (case.id, r.status_code, r.text[:500])
    assert r.status_code < 500
    uploads = world.app.config["DATA_DIR"] / "uploads"
    assert not list(uploads.glob("up-*.part")), "a temporary upload was left behind"
    new_files = set(world.stored_files()) - files_before
    if case.status >= 400:
        assert r.json["code"] == case.status and r.json["message"]
        assert case.fragment.lower() in _message(r), (case.id, r.json)
        assert "Traceback" not in r.text and "/work/" not in r.text
        assert _datasets(world) == rows_before and not new_files, (case.id, new_files)
        return
    dataset = r.json
    assert _datasets(world) == rows_before + 1
    assert all(STORED.match(name) for name in new_files), new_files
    if case.fragment:
        assert case.fragment.lower() in json.dumps(dataset["warnings"]).lower(), dataset["warnings"]
    for check in case.checks:
        CHECKS[check](world, case, dataset)


# --- the checks an accepted case names ---------------------------------------------------------

def generated_name(world: World, case: UploadCase, dataset: dict) -> None:
    stem = case.filename.replace("\x00", "").rsplit(".", 1)[0]
    for name in world.stored_files():
        for part in re.split(r"[/\\]", stem):
            if len(part) > 2:
                assert part.lower() not in name.lower(), (part, name)
    assert "\x00" not in dataset["name"] and len(dataset["name"]) <= 200 and dataset["name"]


def escaped_name(world: World, case: UploadCase, dataset: dict) -> None:
    for url in (f"/datasets/{dataset['id']}", "/"):
        page = world.owner.request("GET", url).text
        assert "<script>alert(1)" not in page and "\x00" not in page
        if "<" in dataset["name"]:
            assert "&lt;script&gt;" in page


def attachment(world: World, case: UploadCase, dataset: dict) -> None:
    api = world.app.test_client().get(f"/api/v1/datasets/{dataset['id']}/download?format=csv",
                                      headers=world.api("owner"))
    page = world.owner.request("GET", f"/datasets/{dataset['id']}/download?format=csv")
    for r in (api, page):
        assert r.status_code == 200
        disposition = r.headers["Content-Disposition"]
        assert disposition.startswith("attachment;"), disposition
        match = re.search(r'filename="([^"]*)"', disposition) or re.search(r"filename=([^;]*)", disposition)
        assert match, disposition
        ascii_name = match.group(1)
        assert not re.search(r'[/\\\x00-\x1f<>"]', ascii_name) and ".." not in ascii_name, disposition
        if "filename*=" in disposition:
            assert re.search(r"filename\*=UTF-8''[A-Za-z0-9%!#$&+.^_`|~-]+", disposition), disposition


def no_control_chars(world: World, case: UploadCase, dataset: dict) -> None:
    rows = world.app.test_client().get(f"/api/v1/datasets/{dataset['id']}/rows", headers=world.api("owner")).json
    text = json.dumps(rows, ensure_ascii=False)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", text), text
    assert "xy" in text and "zw" in text


def wide_ints_kept(world: World, case: UploadCase, dataset: dict) -> None:
    rows = world.app.test_client().get(f"/api/v1/datasets/{dataset['id']}/rows", headers=world.api("owner")).json
    text = json.dumps(rows)
    assert "123456789012345678901234567890" in text.replace(".0", "") or "1.2345678901234568e+29" in text, text
    assert "-98765432109876543210987" in text or "-9.876543210987654e+22" in text, text


def formulas_neutralised(world: World, case: UploadCase, dataset: dict) -> None:
    r = world.app.test_client().get(f"/api/v1/datasets/{dataset['id']}/download?format=csv",
                                    headers=world.api("owner"))
    rows = list(csv.reader(io.StringIO(r.data.decode())))
    labels = [row[0] for row in rows[1:]]
    numbers = [row[1] for row in rows[1:]]
    for label in labels:
        assert label[:1] not in ("=", "+", "@", "-", "\t", "\r"), labels
    assert "'=1+1" in labels and "'-2+3" in labels
    assert "-5" in numbers and "-2.5" in numbers  # a negative number stays a number


def html_escaped(world: World, case: UploadCase, dataset: dict) -> None:
    raw = ("<img src=x onerror", "<script>alert(2)", "<b onmouseover")
    for url in (f"/datasets/{dataset['id']}", f"/datasets/{dataset['id']}/profile", f"/datasets/{dataset['id']}/clean",
                f"/datasets/{dataset['id']}/train", "/"):
        for htmx in (False, True):
            page = world.owner.request("GET", url, htmx=htmx)
            assert page.status_code == 200, url
            for text in raw:
                assert text not in page.text, (url, htmx, text)
    assert "&lt;script&gt;alert(2)" in world.owner.request("GET", f"/datasets/{dataset['id']}").text


def no_javascript_link(world: World, case: UploadCase, dataset: dict) -> None:
    for url in ("/", f"/datasets/{dataset['id']}"):
        page = world.owner.request("GET", url).text
        assert "javascript:alert(1)" in page  # shown as text
        assert not re.search(r"""(href|src|action|hx-get|hx-post)\s*=\s*["']?\s*javascript:""", page, re.I), url


CHECKS = {f.__name__: f for f in (generated_name, escaped_name, attachment, no_control_chars, wide_ints_kept,
                                  formulas_neutralised, html_escaped, no_javascript_link)}


def test_every_named_check_exists():
    for case in UPLOADS:
        assert set(case.checks) <= set(CHECKS), case.id


# --- predictions ------------------------------------------------------------------------------

@pytest.mark.parametrize("case", PREDICTIONS, ids=[c.id for c in PREDICTIONS])
def test_odd_prediction_inputs(world: World, case: PredictionCase):
    row = dict(ROW)
    for key, value in case.changes.items():
        if key == "__drop__":
            row.pop(value)
        else:
            row[key] = value
    body = {"rows": [dict(ROW), row]}
    r = world.app.test_client().post(f"/api/v1/models/{world.model_id}/predict", headers=world.api("owner"),
                                     json=body)
    count("hostile inputs tried")
    assert r.status_code == case.status, (case.id, r.status_code, r.text[:500])
    if case.status == 200:
        assert len(r.json["predictions"]) == 2
        assert all(p in ("Adelie", "Chinstrap", "Gentoo") for p in r.json["predictions"])
    else:
        message = _message(r)
        assert case.fragment.lower() in message, (case.id, r.json)
        assert "1" in message or "row" in message, r.json  # names the row (the second, index 1)


# --- request shapes the corpus cannot express as a file ------------------------------------------

def _refused_413(world: World, r, fragment: str, rows_before: int, files_before: set) -> None:
    count("hostile inputs tried")
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert fragment.lower() in _message(r), r.json
    assert _datasets(world) == rows_before and set(world.stored_files()) == files_before


def test_thousands_of_multipart_parts_are_413(world: World):
    rows, files = _datasets(world), set(world.stored_files())
    data = {f"f{i}": "x" for i in range(5000)}
    data["file"] = (io.BytesIO(CSV_SMALL), "parts.csv")
    r = world.app.test_client().post("/api/v1/datasets", headers=world.api("owner"), data=data,
                                     content_type="multipart/form-data")
    _refused_413(world, r, "", rows, files)


def test_a_huge_text_field_is_413(world: World):
    rows, files = _datasets(world), set(world.stored_files())
    r = upload(world.app.test_client(), world.api("owner"), CSV_SMALL, "field.csv", name="x" * 2_000_000)
    _refused_413(world, r, "", rows, files)


def test_a_chunked_body_past_the_limit_is_413(world: World, monkeypatch):
    monkeypatch.setitem(world.app.config, "MAX_UPLOAD_MB", 1)
    monkeypatch.setitem(world.app.config, "MAX_CONTENT_LENGTH", 1024 * 1024 + 64 * 1024)
    rows, files = _datasets(world), set(world.stored_files())
    boundary = "chunked-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode() + b"a,b\n" + b"1,2\n" * 600_000 + f"\r\n--{boundary}--\r\n".encode()
    r = world.app.test_client().post(
        "/api/v1/datasets", headers={**world.api("owner"), "Transfer-Encoding": "chunked",
                                     "Content-Type": f"multipart/form-data; boundary={boundary}"},
        input_stream=io.BytesIO(body), environ_overrides={"wsgi.input_terminated": True})
    _refused_413(world, r, "", rows, files)
    assert not list((world.app.config["DATA_DIR"] / "uploads").glob("up-*.part"))


def test_an_upload_over_the_users_quota_is_413_naming_it(world: World, monkeypatch):
    monkeypatch.setitem(world.app.config, "USER_QUOTA_MB", 1)
    rows, files = _datasets(world), set(world.stored_files())
    r = upload(world.app.test_client(), world.api("other"), b"a,b\n" + b"1,2\n" * 400_000, "quota.csv")
    _refused_413(world, r, "quota", rows, files)
