"""MLFLOW_TRACKING_URI=http://...: training, the registry and model loading through `mlflow server`.

The server runs on loopback with a SQLite store and proxied artifacts (--serve-artifacts),
as the scale-out topology's MLflow service does; its job runner is off
(MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false: by default it starts one that uses over 2 GB).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PENGUINS = (ROOT / "app" / "sample_data" / "penguins.csv").read_bytes()
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = folder / "server.log"
    mlflow = Path(sys.executable).with_name("mlflow")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
             "--artifacts-destination", str(folder / "artifacts"), "--serve-artifacts"],
            cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a fresh store runs its migrations first
        while True:
            assert proc.poll() is None, f"mlflow server exited:\n{log.read_text()[-4000:]}"
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"mlflow server not healthy:\n{log.read_text()[-4000:]}"
            time.sleep(0.5)
        yield url, folder
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


@pytest.fixture
def app(make_config, mlflow_server):
    from app import create_app
    from app.extensions import db

    app = create_app(make_config(MLFLOW_TRACKING_URI=mlflow_server[0], JOB_HEARTBEAT_INTERVAL_S=0.5))
    yield app
    with app.app_context():
        app.extensions["jobs"].terminate_all()
        db.session.remove()
        db.engine.dispose()


def wait_for(client, headers, job_id, timeout=240):
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/training-jobs/{job_id}", headers=headers).json
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.5)


def test_training_registry_and_prediction_through_a_tracking_server(app, client, api_headers, mlflow_server):
    from mlflow import MlflowClient

    url, folder = mlflow_server
    r = client.post("/api/v1/datasets", headers=api_headers, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(PENGUINS), "penguins.csv")})
    assert r.status_code == 201, r.json
    body = {"dataset_id": r.json["id"], "target": "species", "time_budget_s": 10,
            "models": ["decision_tree", "logistic_regression"], "max_candidates": 3}
    r = client.post("/api/v1/training-jobs", headers=api_headers, json=body)
    assert r.status_code == 202, r.json
    job = wait_for(client, api_headers, r.json["id"])
    assert job["status"] == "succeeded", job["error"]

    # The run and the registered champion are on the server; its artifacts are proxied by it.
    server = MlflowClient(tracking_uri=url, registry_uri=url)
    run = server.get_run(job["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    model = client.get(f"/api/v1/models/{job['best_model_id']}", headers=api_headers).json
    registered = server.search_registered_models()
    assert len(registered) == 1
    champion = server.get_model_version_by_alias(registered[0].name, "champion")
    assert champion.source.startswith("mlflow-artifacts:"), champion.source
    assert any((folder / "artifacts").rglob("*.skops"))  # stored by the server, not by the app
    assert not any(Path(app.config["MLFLOW_ARTIFACT_ROOT"]).rglob("*.skops"))

    # The app loads the model back through the server (digest checked) and predicts.
    row = {"island": "Biscoe", "bill_length_mm": 46.1, "bill_depth_mm": 13.2, "flipper_length_mm": 211,
           "body_mass_g": 4500, "sex": "female", "year": 2007}
    r = client.post(f"/api/v1/models/{model['id']}/predict", headers=api_headers, json={"rows": [row]})
    assert r.status_code == 200, r.json
    assert r.json["predictions"] == ["Gentoo"]
