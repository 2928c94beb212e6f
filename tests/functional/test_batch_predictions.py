"""Batch predictions over the API: a CSV now up to BATCH_SYNC_ROWS, a batch job above, files removed.

BATCH_SYNC_ROWS is lowered per test so the 344 penguins take the job path in real job processes.
"""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest

from tests.functional.test_datasets_api import upload
from tests.functional.test_predictions_api import ROW, model_id  # noqa: F401 (a real model, trained in-process)
from tests.functional.test_training_api import PENGUINS

FINAL = {"succeeded", "failed", "cancelled"}
SMALL = (b"island;bill_length_mm;bill_depth_mm;flipper_length_mm;body_mass_g;sex;year;note\n"
         b"Biscoe;48,0;15,0;220;5200;male;2008;=cmd\n"
         b"Dream;39,5;18,1;190;3700;NA;2009;ok\n")


@pytest.fixture
def other(make_user, make_token):
    return {"Authorization": f"Bearer {make_token(make_user('eve@example.com')[0])}"}


def score_file(client, headers, model_id, content: bytes, **form):  # noqa: F811
    return client.post(f"/api/v1/models/{model_id}/batch-predictions", headers=headers,
                       data={"file": (io.BytesIO(content), "to-score.csv"), **form},
                       content_type="multipart/form-data")


def score_dataset(client, headers, model_id, **body):  # noqa: F811
    return client.post(f"/api/v1/models/{model_id}/batch-predictions", headers=headers, json=body)


def rows_of(response) -> list[dict]:
    assert response.mimetype == "text/csv", response.data[:300]
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8"))))


def wait_for(client, headers, job_id, timeout=120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/api/v1/batch-jobs/{job_id}", headers=headers)
        assert r.status_code == 200, r.json
        if r.json["status"] in FINAL:
            return r.json
        time.sleep(0.3)
    raise AssertionError(f"batch job {job_id} did not finish: {r.json}")


def job_folder(app, job_id) -> Path:
    from app.extensions import db
    from app.models import Job

    with app.app_context():
        return Path(app.config["DATA_DIR"]) / db.session.get(Job, job_id).request["folder"]


def test_a_small_file_is_scored_at_once_with_reasons_and_formula_safe(client, api_headers, model_id):  # noqa: F811
    r = score_file(client, api_headers, model_id, SMALL, explain="true")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"].startswith("attachment")
    rows = rows_of(r)
    assert list(rows[0])[:8] == ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                                 "body_mass_g", "sex", "year", "note"]
    assert list(rows[0])[8:] == ["prediction", "probability_Adelie", "probability_Chinstrap",
                                 "probability_Gentoo", "reasons"]
    assert rows[0]["prediction"] == "Gentoo" and rows[0]["note"] == "'=cmd"
    assert abs(sum(float(rows[0][f"probability_{c}"]) for c in ("Adelie", "Chinstrap", "Gentoo")) - 1) < 1e-6
    assert rows[0]["reasons"] and ("raised" in rows[0]["reasons"] or "lowered" in rows[0]["reasons"])
    assert r.headers["X-Formula-Cells-Escaped"] == "1"

    # the same as the JSON endpoint; without explain there is no reasons column
    api = client.post(f"/api/v1/models/{model_id}/predict", headers=api_headers, json={"rows": [
        ROW, {**ROW, "island": "Dream", "bill_length_mm": 39.5, "bill_depth_mm": 18.1, "flipper_length_mm": 190,
              "body_mass_g": 3700, "sex": None, "year": 2009}]}).json
    plain = rows_of(score_file(client, api_headers, model_id, SMALL))
    assert "reasons" not in plain[0]
    assert [row["prediction"] for row in plain] == api["predictions"]
    assert float(plain[1]["probability_Adelie"]) == pytest.approx(api["probabilities"][1]["Adelie"], abs=1e-9)


def test_refusals_name_what_is_wrong(client, api_headers, model_id, other):  # noqa: F811
    r = score_file(client, api_headers, model_id, b"island,sex,extra\nBiscoe,male,1\n")
    assert r.status_code == 422
    for name in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"):
        assert name in r.json["message"]
    assert r.json["errors"]["missing_columns"] == ["bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                                                   "body_mass_g", "year"]
    bad = SMALL.replace(b"Dream;39,5", b"Dream;long")
    r = score_file(client, api_headers, model_id, bad)
    assert r.status_code == 422 and r.json["errors"]["files"]["file"]["rows"]["1"]["bill_length_mm"]
    r = client.post(f"/api/v1/models/{model_id}/batch-predictions", headers=api_headers, data={},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.json["errors"]["files"]
    assert score_dataset(client, api_headers, model_id, dataset_id="x").status_code == 422
    assert score_dataset(client, api_headers, model_id).status_code == 422
    assert score_file(client, other, model_id, SMALL).status_code == 404
    assert score_file(client, {}, model_id, SMALL).status_code == 401


def test_a_stored_dataset_of_the_same_user_is_scored(app, client, api_headers, model_id, other):  # noqa: F811
    penguins = upload(client, api_headers, PENGUINS, "penguins.csv").json["id"]
    r = score_dataset(client, api_headers, model_id, dataset_id=penguins, version=1)
    assert r.status_code == 200
    rows = rows_of(r)
    assert len(rows) == 344 and "species" in rows[0]  # every column of the dataset is kept
    right = sum(row["prediction"] == row["species"] for row in rows)
    assert right > 300

    assert score_dataset(client, api_headers, model_id, dataset_id=penguins, version=9).status_code == 404
    theirs = upload(client, other, PENGUINS, "penguins.csv").json["id"]
    assert score_dataset(client, api_headers, model_id, dataset_id=theirs).status_code == 404
    assert score_dataset(client, other, model_id, dataset_id=theirs).status_code == 404  # not their model

    people = upload(client, api_headers, b"island,sex\nBiscoe,male\nDream,female\n", "people.csv").json["id"]
    r = score_dataset(client, api_headers, model_id, dataset_id=people)
    assert r.status_code == 422 and "bill_length_mm" in r.json["message"]
    assert "bill_length_mm" in r.json["errors"]["missing_columns"]


def test_a_large_dataset_runs_as_a_job_then_downloads(app, client, api_headers, model_id, other):  # noqa: F811
    penguins = upload(client, api_headers, PENGUINS, "penguins.csv").json["id"]
    now = rows_of(score_dataset(client, api_headers, model_id, dataset_id=penguins))  # 344 <= 50,000
    app.config.update(BATCH_SYNC_ROWS=100, BATCH_CHUNK_ROWS=50, JOB_MAX_CONCURRENT=0)  # queued: no slot yet

    r = score_dataset(client, api_headers, model_id, dataset_id=penguins)
    assert r.status_code == 202, r.json
    job = r.json
    assert set(job) == {"id", "status", "progress", "n_rows", "download_url", "error"}
    assert job["status"] == "queued" and job["n_rows"] == 344 and job["download_url"] is None
    assert r.headers["Location"].endswith(f"/api/v1/batch-jobs/{job['id']}")
    download = f"/api/v1/batch-jobs/{job['id']}/download"
    r = client.get(download, headers=api_headers)
    assert r.status_code == 409 and r.json["errors"]["status"] == "queued"
    assert client.get(f"/api/v1/batch-jobs/{job['id']}", headers=other).status_code == 404
    assert client.get(download, headers=other).status_code == 404
    assert client.get("/api/v1/batch-jobs/999999", headers=api_headers).status_code == 404

    app.config["JOB_MAX_CONCURRENT"] = 1
    done = wait_for(client, api_headers, job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"]["fraction"] == 1.0 and done["progress"]["rows_done"] == 344
    assert done["download_url"].endswith(download)
    r = client.get(download, headers=api_headers)
    assert r.status_code == 200 and r.headers["Content-Disposition"].startswith("attachment")
    scored = rows_of(r)
    assert [row["prediction"] for row in scored] == [row["prediction"] for row in now]  # chunked = at once
    assert [row["probability_Gentoo"] for row in scored] == [row["probability_Gentoo"] for row in now]
    assert client.get(download, headers=other).status_code == 404

    folder = job_folder(app, job["id"])
    assert [p.name for p in folder.iterdir()] == ["predictions.csv"]  # written atomically: no leftovers
    assert client.delete(f"/api/v1/models/{model_id}", headers=api_headers).status_code == 204
    assert not folder.exists()  # the model took its batch jobs and their files
    assert client.get(f"/api/v1/batch-jobs/{job['id']}", headers=api_headers).status_code == 404


def test_a_large_upload_runs_as_a_job_and_goes_with_the_account(app, client, api_headers, model_id):  # noqa: F811
    app.config.update(BATCH_SYNC_ROWS=100, BATCH_CHUNK_ROWS=64)
    semicolons = PENGUINS.replace(b",", b";")  # any dialect the dataset upload reads
    r = score_file(client, api_headers, model_id, semicolons)
    assert r.status_code == 202, r.json
    job_id = r.json["id"]
    folder = job_folder(app, job_id)
    done = wait_for(client, api_headers, job_id)
    assert done["status"] == "succeeded", done["error"]
    rows = rows_of(client.get(f"/api/v1/batch-jobs/{job_id}/download", headers=api_headers))
    assert len(rows) == 344 and rows[0]["prediction"] in ("Adelie", "Chinstrap", "Gentoo")
    assert [p.name for p in folder.iterdir()] == ["predictions.csv"]  # the input went: the output is what is kept
    with app.app_context():  # the first rows are kept as the drift sample, with their inputs
        from sqlalchemy import select

        from app.extensions import db
        from app.models import PredictionLog

        logged = db.session.scalars(select(PredictionLog).where(PredictionLog.model_id == model_id)).all()
        assert len(logged) >= 64 and len({p.uid for p in logged}) == len(logged)
        assert any(p.prediction["value"] == rows[0]["prediction"] and p.inputs["island"] == rows[0]["island"]
                   and abs(sum(p.prediction["probabilities"].values()) - 1) < 1e-6 for p in logged)

    # a value that is not a number far into the file fails the job, naming the row and the feature
    lines = semicolons.split(b"\n")
    lines[300] = lines[300].replace(lines[300].split(b";")[2], b"long", 1)
    failed = wait_for(client, api_headers, score_file(client, api_headers, model_id, b"\n".join(lines)).json["id"])
    assert failed["status"] == "failed" and "Row 299" in failed["error"] and "bill_length_mm" in failed["error"]
    assert client.get(f"/api/v1/batch-jobs/{failed['id']}/download", headers=api_headers).status_code == 409

    from tests.conftest import PASSWORD

    assert client.delete("/api/v1/auth/me", headers=api_headers, json={"password": PASSWORD}).status_code == 204
    assert folder.exists() is False
    assert not job_folder_exists(app, failed["id"])


def job_folder_exists(app, job_id) -> bool:
    from app.extensions import db
    from app.models import Job

    with app.app_context():
        return db.session.get(Job, job_id) is not None


def test_the_model_page_scores_a_dataset_as_a_job_that_a_reload_finds_again(app, client, login, api_headers,
                                                                             model_id):  # noqa: F811
    from tests.conftest import csrf_token_from

    penguins = upload(client, api_headers, PENGUINS, "penguins.csv").json["id"]
    app.config.update(BATCH_SYNC_ROWS=100, JOB_MAX_CONCURRENT=0)
    login()
    page = client.get(f"/models/{model_id}").text
    assert re.search(rf'<select id="score-dataset" name="dataset_id">.*<option value="{penguins}">penguins</option>',
                     page, re.S)
    hx = {"HX-Request": "true"}
    r = client.post(f"/models/{model_id}/score", headers=hx, content_type="multipart/form-data",
                    data={"csrf_token": csrf_token_from(page), "dataset_id": str(penguins)})
    assert r.status_code == 202 and "<html" not in r.text
    job_id = int(re.search(r'id="batch-job-(\d+)" data-status="queued"', r.text).group(1))
    assert f'hx-get="/batch-jobs/{job_id}" hx-trigger="load delay:1s"' in r.text  # polls itself
    assert client.get(f"/batch-jobs/{job_id}/download").status_code == 409

    page = client.get(f"/models/{model_id}").text  # a reload lists it, still polling
    assert f'id="batch-job-{job_id}" data-status="queued"' in page and f'hx-get="/batch-jobs/{job_id}"' in page
    app.config["JOB_MAX_CONCURRENT"] = 1
    wait_for(client, api_headers, job_id)
    fragment = client.get(f"/batch-jobs/{job_id}", headers=hx).text
    assert 'data-status="succeeded"' in fragment and "hx-get" not in fragment  # the polling stops
    assert f'href="/batch-jobs/{job_id}/download"' in fragment
    assert "<html" in client.get(f"/batch-jobs/{job_id}").text  # without htmx, a page
    r = client.get(f"/batch-jobs/{job_id}/download")
    assert r.status_code == 200 and len(rows_of(r)) == 344

    # a file is still scored at once; neither file nor dataset is an error in place
    r = client.post(f"/models/{model_id}/score", headers=hx, content_type="multipart/form-data",
                    data={"csrf_token": csrf_token_from(page), "file": (io.BytesIO(SMALL), "small.csv")})
    assert r.status_code == 200 and len(rows_of(r)) == 2
    r = client.post(f"/models/{model_id}/score", headers=hx, content_type="multipart/form-data",
                    data={"csrf_token": csrf_token_from(page)})
    assert r.status_code == 422 and 'id="score-error"' in r.text

    # another user sees none of it
    from tests.conftest import PASSWORD

    client.post("/api/v1/auth/register", json={"email": "eve@example.com", "password": PASSWORD})
    login("eve@example.com")
    assert client.get(f"/batch-jobs/{job_id}").status_code == 404
    assert client.get(f"/batch-jobs/{job_id}/download").status_code == 404


def test_chunks_become_the_same_frame_as_the_json_rows_give():
    """The vectorised path of a chunk gives exactly check_rows' frame; a bad cell is named with its file row."""
    import pandas as pd
    import pyarrow as pa

    from app.blueprints.prediction.chunk_input import _python_rows, chunk_frame
    from app.ml.serving import InvalidInput, check_rows

    features = [{"name": "n", "kind": "float"}, {"name": "i", "kind": "integer"}, {"name": "s", "kind": "integer"},
                {"name": "c", "kind": "categorical", "allowed_values": ["a", "b"]},
                {"name": "b", "kind": "boolean", "allowed_values": ["no", "yes"]}, {"name": "d", "kind": "datetime"},
                {"name": "z", "kind": "categorical", "allowed_values": ["1", "2"]}]
    chunk = pa.record_batch({
        "n": pa.array([1.5, None, float("inf"), -2.0]), "i": pa.array([1, 2, None, 4]),
        "s": pa.array([" 3.0", "NA", "", "-"]), "c": pa.array(["a ", "b", "x", None]),
        "b": pa.array(["yes", "no", "n/a", "yes"]),
        "d": pa.array([pd.Timestamp("2020-01-01 10:00"), None, pd.Timestamp("2021-05-06"),
                       pd.Timestamp("1999-12-31")], pa.timestamp("us")),
        "z": pa.array([1, 2, 3, None]), "extra": pa.array(["=x", "y", "z", "w"])})
    fast, warnings = chunk_frame(chunk, features, 0)
    expected = check_rows(_python_rows(chunk), features, max_rows=10)
    pd.testing.assert_frame_equal(fast, expected.frame)
    assert warnings == [w for w in expected.warnings if not w.startswith("Ignored keys")]

    bad = chunk.set_column(2, "s", pa.array(["1", "2", "two", "4"]))
    with pytest.raises(InvalidInput) as refused:
        chunk_frame(bad, features, 1000)
    assert list(refused.value.errors["rows"]) == ["1002"] and "s" in refused.value.errors["rows"]["1002"]
