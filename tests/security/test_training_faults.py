"""A training process killed in the middle of its search (SIGKILL, as the OOM killer does it).

tests/functional/test_training_api.py kills a job as soon as its process exists; here it is killed
after candidates have finished (so some families already have a fitted best), and then:
- the job ends failed with "interrupted" and shows no model, in the API and in the database: model
  rows are only committed with the job's success, so no half-written model is visible;
- its retry over the API runs the same request to success, and each model it keeps predicts.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.functional.test_datasets_api import upload
from tests.functional.test_predictions_api import ROW
from tests.functional.test_training_api import FINAL, PENGUINS, wait_for
from tests.security.conftest import count

REQUEST = {"target": "species", "time_budget_s": 10, "max_candidates": 200, "seed": 0,
           "models": ["logistic_regression", "decision_tree", "random_forest"]}


def job_pid(app, job_id: int, timeout: float = 60) -> int:
    from app.extensions import db
    from app.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            pid = db.session.get(Job, job_id).pid
        if pid:
            return pid
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} has no process after {timeout} s")


@pytest.mark.slow
def test_a_training_killed_mid_search_shows_no_model_and_its_retry_succeeds(app, client, api_headers, tracking):
    from app.extensions import db
    from app.models import Job, TrainedModel

    dataset_id = upload(client, api_headers, PENGUINS, "penguins.csv").json["id"]
    r = client.post("/api/v1/training-jobs", headers=api_headers, json={"dataset_id": dataset_id, **REQUEST})
    assert r.status_code == 202, r.json
    job_id = r.json["id"]
    pid = job_pid(app, job_id)
    deadline = time.monotonic() + 120
    while True:  # until candidates have finished, while the search goes on
        job = client.get(f"/api/v1/training-jobs/{job_id}", headers=api_headers).json
        assert job["status"] in ("queued", "running"), job  # the search lasts its 10 s budget
        if (job["progress"] or {}).get("candidates_done", 0) >= 2:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)

    job = wait_for(client, api_headers, job_id, timeout=90)
    assert (job["status"], job["error"]) == ("failed", "interrupted"), job
    assert job["best_model_id"] is None
    assert all(entry.get("model_id") is None for entry in job["leaderboard"] or [])
    assert client.get("/api/v1/models", headers=api_headers).json == []
    with app.app_context():
        assert db.session.query(TrainedModel).filter_by(job_id=job_id).count() == 0
    count("faults injected")

    retried = client.post(f"/api/v1/training-jobs/{job_id}/retry", headers=api_headers)
    assert retried.status_code == 202, retried.json
    assert retried.json["id"] != job_id
    with app.app_context():
        assert db.session.get(Job, retried.json["id"]).request == db.session.get(Job, job_id).request
    done = wait_for(client, api_headers, retried.json["id"], statuses=FINAL, timeout=240)
    assert done["status"] == "succeeded", done
    models = client.get("/api/v1/models", headers=api_headers).json
    assert models and {m["job_id"] for m in models} == {done["id"]}
    assert done["best_model_id"] in {m["id"] for m in models}
    for model in models:
        r = client.post(f"/api/v1/models/{model['id']}/predict", headers=api_headers, json={"rows": [ROW]})
        assert r.status_code == 200, r.json
        assert r.json["predictions"][0] in ("Adelie", "Chinstrap", "Gentoo")
