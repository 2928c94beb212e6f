"""Training over the API: preview, the job life cycle in real job processes, models."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from tests.functional.test_datasets_api import upload

PENGUINS = (Path(__file__).resolve().parents[2] / "app" / "sample_data" / "penguins.csv").read_bytes()
FINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture
def penguins(client, api_headers, tracking):
    r = upload(client, api_headers, PENGUINS, "penguins.csv")
    assert r.status_code == 201
    return r.json["id"]


def wait_for(client, headers, job_id, statuses=FINAL, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/training-jobs/{job_id}", headers=headers).json
        if job["status"] in statuses:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job['status']}: {job}")


def test_preview_detects_the_task_with_a_reason(client, api_headers, penguins):
    r = client.post("/api/v1/training-jobs/preview", headers=api_headers,
                    json={"dataset_id": penguins, "target": "species"})
    assert r.status_code == 200
    assert r.json["task"] == "classification"
    assert "classification" in r.json["reason"]
    assert r.json["class_counts"] == {"Adelie": 152, "Chinstrap": 68, "Gentoo": 124}
    r = client.post("/api/v1/training-jobs/preview", headers=api_headers,
                    json={"dataset_id": penguins, "target": "body_mass_g"})
    assert r.json["task"] == "regression"
    r = client.post("/api/v1/training-jobs/preview", headers=api_headers,
                    json={"dataset_id": penguins, "target": "body_mass_g", "task": "classification"})
    assert r.status_code in (200, 422)  # an override is honoured or refused with a reason, never a 500


@pytest.mark.parametrize(
    "body",
    [
        {"target": "no_such_column"},
        {"target": "species", "exclude_columns": ["island", "bill_length_mm", "bill_depth_mm",
                                                  "flipper_length_mm", "body_mass_g", "sex", "year"]},
        {"target": "species", "metric": "r2"},
        {"target": "species", "models": ["ridge"]},
        {"target": "species", "time_budget_s": 2},
        {"target": "species", "max_candidates": 0},
    ],
)
def test_untrainable_requests_are_422_before_any_job(client, api_headers, penguins, body):
    r = client.post("/api/v1/training-jobs", headers=api_headers, json={"dataset_id": penguins, **body})
    assert r.status_code == 422, r.json
    assert client.get("/api/v1/training-jobs", headers=api_headers).json == []


def test_one_class_is_422(client, api_headers, tracking):
    content = b"a,b,label\n" + b"".join(f"{i},{i % 3},same\n".encode() for i in range(30))
    ds = upload(client, api_headers, content, "one.csv").json["id"]
    r = client.post("/api/v1/training-jobs", headers=api_headers, json={"dataset_id": ds, "target": "label"})
    assert r.status_code == 422


def test_job_life_cycle_models_promote_export(client, api_headers, penguins):
    body = {"dataset_id": penguins, "target": "species", "time_budget_s": 20,
            "models": ["logistic_regression", "decision_tree"], "max_candidates": 4}
    r = client.post("/api/v1/training-jobs", headers=api_headers, json=body)
    assert r.status_code == 202, r.json
    job_id = r.json["id"]
    assert r.headers["Location"].endswith(f"/api/v1/training-jobs/{job_id}")
    assert r.json["status"] in ("queued", "running")
    dup = client.post("/api/v1/training-jobs", headers=api_headers, json=body)
    assert dup.status_code == 409 and dup.json["errors"]["job_id"] == job_id

    job = wait_for(client, api_headers, job_id)
    assert job["status"] == "succeeded", job
    assert job["started_at"] and job["finished_at"]
    assert job["progress"]["fraction"] == 1.0
    assert job["leaderboard"] and job["best_model_id"]
    ids = [entry["model_id"] for entry in job["leaderboard"] if entry["model_id"]]
    assert job["best_model_id"] in ids

    model = client.get(f"/api/v1/models/{job['best_model_id']}", headers=api_headers).json
    assert model["is_champion"] is True and model["task"] == "classification"
    assert model["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert {f["name"] for f in model["features"]} >= {"island", "bill_length_mm"}
    assert "accuracy" in model["metrics"] and model["baseline"]
    assert model["mlflow_run_id"] and model["registered_name"]

    other = next(i for i in ids if i != job["best_model_id"]) if len(ids) > 1 else None
    if other:
        promoted = client.post(f"/api/v1/models/{other}/promote", headers=api_headers)
        assert promoted.status_code == 200 and promoted.json["is_champion"] is True
        assert client.get(f"/api/v1/models/{job['best_model_id']}", headers=api_headers).json["is_champion"] is False

    export = client.get(f"/api/v1/models/{job['best_model_id']}/export", headers=api_headers)
    assert export.status_code == 200 and export.mimetype == "application/zip"
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(export.data)).namelist()
    assert "MLmodel" in names and any(n.endswith(".skops") for n in names)

    # the version a model was trained on survives undo (API.md)
    assert client.post(f"/api/v1/datasets/{penguins}/operations", headers=api_headers,
                       json={"op": "drop_columns", "params": {"columns": ["year"]}}).status_code == 201
    assert client.post(f"/api/v1/datasets/{penguins}/undo", headers=api_headers).status_code == 200

    retry = client.post(f"/api/v1/training-jobs/{job_id}/retry", headers=api_headers)
    assert retry.status_code == 409  # only failed or cancelled jobs
    cancel = client.post(f"/api/v1/training-jobs/{job_id}/cancel", headers=api_headers)
    assert cancel.status_code == 409  # already finished

    assert client.delete(f"/api/v1/models/{job['best_model_id']}", headers=api_headers).status_code == 204
    assert client.get(f"/api/v1/models/{job['best_model_id']}", headers=api_headers).status_code == 404


def test_cancel_and_retry(client, api_headers, penguins):
    body = {"dataset_id": penguins, "target": "body_mass_g", "time_budget_s": 120}
    job_id = client.post("/api/v1/training-jobs", headers=api_headers, json=body).json["id"]
    r = client.post(f"/api/v1/training-jobs/{job_id}/cancel", headers=api_headers)
    assert r.status_code == 202 and r.json["status"] == "cancelled"
    assert wait_for(client, api_headers, job_id)["status"] == "cancelled"
    assert client.get("/api/v1/models", headers=api_headers).json == []
    retried = client.post(f"/api/v1/training-jobs/{job_id}/retry", headers=api_headers)
    assert retried.status_code == 202 and retried.json["id"] != job_id
    assert retried.json["target"] == "body_mass_g"
    client.post(f"/api/v1/training-jobs/{retried.json['id']}/cancel", headers=api_headers)


JOB_ENDPOINTS = [("get", "/training-jobs/{job}"), ("post", "/training-jobs/{job}/cancel"),
                 ("post", "/training-jobs/{job}/retry")]


def test_another_user_gets_404_on_jobs_and_models(app, client, api_headers, make_user, make_token, penguins):
    body = {"dataset_id": penguins, "target": "species", "time_budget_s": 120}
    job_id = client.post("/api/v1/training-jobs", headers=api_headers, json=body).json["id"]
    other = {"Authorization": f"Bearer {make_token(make_user('eve@example.com')[0])}"}
    for method, path in JOB_ENDPOINTS:
        theirs = getattr(client, method)("/api/v1" + path.format(job=job_id), headers=other)
        missing = getattr(client, method)("/api/v1" + path.format(job=99999), headers=other)
        assert theirs.status_code == 404 and theirs.json == missing.json
    r = client.post("/api/v1/training-jobs", headers=other, json=body)
    assert r.status_code == 404  # the dataset is not theirs either
    assert client.get("/api/v1/training-jobs", headers=other).json == []
    client.post(f"/api/v1/training-jobs/{job_id}/cancel", headers=api_headers)


@pytest.mark.parametrize("path", ["/models/1", "/models/1/promote", "/models/1/export"])
def test_models_of_nobody_are_404(client, api_headers, path):
    method = client.post if path.endswith("promote") else client.get
    assert method("/api/v1" + path, headers=api_headers).status_code == 404


def test_a_killed_job_process_ends_interrupted_and_can_be_retried(app, client, api_headers, penguins):
    import os
    import signal

    from app.extensions import db
    from app.models import Job

    body = {"dataset_id": penguins, "target": "species", "time_budget_s": 120}
    job_id = client.post("/api/v1/training-jobs", headers=api_headers, json=body).json["id"]
    wait_for(client, api_headers, job_id, statuses={"running"} | FINAL)
    deadline = time.monotonic() + 60
    pid = None
    while pid is None and time.monotonic() < deadline:
        with app.app_context():
            pid = db.session.get(Job, job_id).pid
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    job = wait_for(client, api_headers, job_id, timeout=90)
    assert job["status"] == "failed" and job["error"] == "interrupted"
    assert client.get("/api/v1/models", headers=api_headers).json == []
    retried = client.post(f"/api/v1/training-jobs/{job_id}/retry", headers=api_headers)
    assert retried.status_code == 202
    client.post(f"/api/v1/training-jobs/{retried.json['id']}/cancel", headers=api_headers)


def test_metrics_show_jobs_running_and_outcomes(app, client, make_user):
    from app.extensions import db
    from app.models import Job

    user_id, _ = make_user()
    with app.app_context():
        for n in range(2):  # rows as another process (a worker, a job) would leave them
            db.session.add(Job(user_id=user_id, kind="training", status="running", request={"n": n},
                               request_key=f"k{n}", heartbeat_at=None))
        db.session.commit()
    text = client.get("/metrics").text
    assert "csv_analyzer_jobs_running 2.0" in text
    assert 'csv_analyzer_training_jobs_total{status="failed"} 0.0' in text


def test_neighbours_asked_for_alone_on_too_many_rows_are_422_with_the_reason(
        client, api_headers, penguins, monkeypatch):
    import dataclasses

    from app.ml.training.families import FAMILIES
    knn = FAMILIES["classification"]["k_nearest_neighbors"]
    monkeypatch.setitem(FAMILIES["classification"], "k_nearest_neighbors",
                        dataclasses.replace(knn, max_rows=100))
    r = client.post("/api/v1/training-jobs", headers=api_headers,
                    json={"dataset_id": penguins, "target": "species",
                          "models": ["k_nearest_neighbors"]})
    assert r.status_code == 422, r.json
    assert "up to 100 rows (this data has 344)" in str(r.json)
    assert client.get("/api/v1/training-jobs", headers=api_headers).json == []


def test_an_svm_trained_over_the_api_predicts_with_probabilities_and_explains(
        client, api_headers, penguins):
    """The support vector machine end to end: saved through MLflow with its trusted types,
    loaded back by the prediction endpoint, its prediction its most probable class."""
    body = {"dataset_id": penguins, "target": "species", "time_budget_s": 20,
            "models": ["support_vector_machine"], "max_candidates": 3}
    r = client.post("/api/v1/training-jobs", headers=api_headers, json=body)
    assert r.status_code == 202, r.json
    job = wait_for(client, api_headers, r.json["id"])
    assert job["status"] == "succeeded", job
    model = client.get(f"/api/v1/models/{job['best_model_id']}", headers=api_headers).json
    assert model["algorithm"].startswith("Support vector machine")
    row = {"island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 14.2,
           "flipper_length_mm": 217, "body_mass_g": 5000, "sex": None, "year": 2008}
    r = client.post(f"/api/v1/models/{job['best_model_id']}/predict", headers=api_headers,
                    json={"rows": [row], "explain": True})
    assert r.status_code == 200, r.json
    probabilities = r.json["probabilities"][0]
    assert r.json["predictions"] == [max(probabilities, key=probabilities.get)] == ["Gentoo"]
    assert r.json["reasons"][0]

