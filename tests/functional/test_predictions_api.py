"""Predictions over the API: validation rules of API.md, reasons, batch files, ids, isolation."""

from __future__ import annotations

import csv
import io

import pytest

from tests.functional.test_datasets_api import upload
from tests.functional.test_training_api import PENGUINS

ROW = {"island": "Biscoe", "bill_length_mm": 48.0, "bill_depth_mm": 15.0, "flipper_length_mm": 220,
       "body_mass_g": 5200, "sex": "male", "year": 2008}


@pytest.fixture
def model_id(app, client, api_headers, tracking):
    """A logistic regression on the sample dataset, trained in-process by the real engine and job code."""
    from app.blueprints.training import job as training_job
    from app.blueprints.training import service
    from app.blueprints.training.tracking import make_tracker
    from app.extensions import db
    from app.ml.training import run_search
    from app.models import Dataset, Job

    ds = upload(client, api_headers, PENGUINS, "penguins.csv").json["id"]
    with app.app_context():
        dataset = db.session.get(Dataset, ds)
        request = {"dataset_id": ds, "version": 1, "target": "species", "time_budget_s": 30,
                   "models": ["logistic_regression"], "max_candidates": 1, "seed": 0}
        job = Job(user_id=dataset.user_id, kind="training", status="running", request=request, request_key="k")
        db.session.add(job)
        db.session.commit()
        frame, kinds, version = service.load_frame(dataset, 1)
        search = service.search_request(request)
        result = run_search(frame, kinds, search, on_progress=lambda p: None, should_stop=lambda: False,
                            tracker=make_tracker())
        background = training_job.background_rows(frame, [f["name"] for f in result.features], 0)
        answer = training_job._keep(job, dataset, version, result, background)
        db.session.commit()
        return answer["best_model_id"]


def predict(client, headers, model_id, rows, **extra):
    return client.post(f"/api/v1/models/{model_id}/predict", headers=headers, json={"rows": rows, **extra})


def test_predictions_probabilities_reasons_and_validation(app, client, api_headers, model_id):
    r = predict(client, api_headers, model_id, [ROW, {**ROW, "island": "Dream", "bill_length_mm": "39.5",
                                                      "flipper_length_mm": 3.0e2, "extra": 1}], explain=True)
    assert r.status_code == 200, r.json
    assert r.json["predictions"][0] == "Gentoo"
    assert all(p in ("Adelie", "Chinstrap", "Gentoo") for p in r.json["predictions"])
    assert set(r.json["probabilities"][0]) == {"Adelie", "Chinstrap", "Gentoo"}
    assert abs(sum(r.json["probabilities"][0].values()) - 1) < 1e-6
    assert len(r.json["prediction_ids"]) == 2 and len(set(r.json["prediction_ids"])) == 2
    assert any("extra" in w for w in r.json["warnings"])
    reasons = r.json["reasons"][0]
    assert reasons and {"feature", "value", "effect"} <= set(reasons[0])
    assert abs(reasons[0]["effect"]) >= abs(reasons[-1]["effect"])

    # missing markers, null and inf are missing values (imputed); an unseen category warns
    r = predict(client, api_headers, model_id, [{**ROW, "sex": None, "body_mass_g": "NA", "bill_depth_mm": "inf",
                                                 "island": "Atlantis"}])
    assert r.status_code == 200, r.json
    assert any("Atlantis" in w for w in r.json["warnings"])

    r = predict(client, api_headers, model_id, [{k: v for k, v in ROW.items() if k != "sex"}])
    assert r.status_code == 422 and r.json["errors"]["json"]["rows"]["0"]["sex"]
    r = predict(client, api_headers, model_id, [ROW, {**ROW, "bill_length_mm": "long"}])
    assert r.status_code == 422 and list(r.json["errors"]["json"]["rows"]) == ["1"]
    for bad in ({"a": 1}, [1, 2]):
        r = predict(client, api_headers, model_id, [{**ROW, "island": bad}])
        assert r.status_code == 422 and "island" in r.json["errors"]["json"]["rows"]["0"]
    assert predict(client, api_headers, model_id, []).status_code == 422
    assert predict(client, api_headers, model_id, "not a list").status_code == 422
    assert predict(client, api_headers, model_id, [ROW] * 10_001).status_code == 413
    assert predict(client, api_headers, model_id, [{**ROW, "flipper_length_mm": 1e308}]).status_code == 200

    text = client.get("/metrics").text
    assert f'csv_analyzer_predictions_total{{model_id="{model_id}"}}' in text

    from app.extensions import db
    from app.models import PredictionLog

    with app.app_context():
        logged = db.session.query(PredictionLog).filter_by(model_id=model_id).count()
    assert logged == 4  # every successful row (sample rate 1.0); refused calls log nothing


def test_batch_scoring_csv(client, api_headers, model_id):
    content = (b"island;bill_length_mm;bill_depth_mm;flipper_length_mm;body_mass_g;sex;year;note\n"
               b"Biscoe;48,0;15,0;220;5200;male;2008;=cmd\n"
               b"Dream;39,5;18,1;190;3700;NA;2009;ok\n")
    r = client.post(f"/api/v1/models/{model_id}/batch-predictions", headers=api_headers,
                    data={"file": (io.BytesIO(content), "to-score.csv"), "explain": "true"},
                    content_type="multipart/form-data")
    assert r.status_code == 200, r.data[:500]
    assert r.mimetype == "text/csv" and r.headers["Content-Disposition"].startswith("attachment")
    table = list(csv.DictReader(io.StringIO(r.data.decode())))
    assert table[0]["prediction"] == "Gentoo"
    assert {"probability_Adelie", "probability_Chinstrap", "probability_Gentoo", "reasons"} <= set(table[0])
    assert table[0]["note"] == "'=cmd"  # formula-safe output

    missing = b"island,sex\nBiscoe,male\n"
    r = client.post(f"/api/v1/models/{model_id}/batch-predictions", headers=api_headers,
                    data={"file": (io.BytesIO(missing), "x.csv")}, content_type="multipart/form-data")
    assert r.status_code == 422 and "bill_length_mm" in r.json["message"]


def test_another_user_and_deleted_models_are_404(client, api_headers, model_id, make_user, make_token):
    other = {"Authorization": f"Bearer {make_token(make_user('eve@example.com')[0])}"}
    assert predict(client, other, model_id, [ROW]).status_code == 404
    r = client.post(f"/api/v1/models/{model_id}/batch-predictions", headers=other,
                    data={"file": (io.BytesIO(b"a\n1\n"), "x.csv")}, content_type="multipart/form-data")
    assert r.status_code == 404
    assert predict(client, api_headers, model_id, [ROW]).status_code == 200  # cached now
    assert client.delete(f"/api/v1/models/{model_id}", headers=api_headers).status_code == 204
    assert predict(client, api_headers, model_id, [ROW]).status_code == 404
    assert predict(client, {}, model_id, [ROW]).status_code == 401


def test_exported_model_loads_with_pyfunc_in_a_fresh_process(client, api_headers, model_id, tmp_path):
    import json
    import subprocess
    import sys
    import zipfile

    export = client.get(f"/api/v1/models/{model_id}/export", headers=api_headers)
    assert export.status_code == 200
    zipfile.ZipFile(io.BytesIO(export.data)).extractall(tmp_path / "model")
    rows = [ROW, {**ROW, "island": "Dream", "bill_length_mm": 39.5, "bill_depth_mm": 18.1,
                  "flipper_length_mm": 190, "body_mass_g": 3700, "sex": "female"}]
    api = predict(client, api_headers, model_id, rows).json["predictions"]
    script = (
        "import json, sys, pandas as pd, mlflow.pyfunc\n"
        "model = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "frame = pd.DataFrame(json.loads(sys.argv[2]))\n"
        "frame = frame.astype({c: float for c in frame.select_dtypes('number').columns})\n"
        "print(json.dumps([str(p) for p in model.predict(frame)]))\n"
    )
    # from another folder: the installed project must be enough, not the checkout's cwd
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "model"), json.dumps(rows)],
                         capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == api


def test_a_model_whose_files_changed_is_refused_with_503(app, client, api_headers, model_id, caplog):
    from pathlib import Path
    from urllib.parse import urlparse

    from app.extensions import db
    from app.ml.tracking import artifact_location
    from app.models import TrainedModel

    with app.app_context():
        model = db.session.get(TrainedModel, model_id)
        assert model.files_sha256 and len(model.files_sha256) == 64
        folder = Path(urlparse(artifact_location(model.model_uri, app.config["MLFLOW_TRACKING_URI"])).path)
    skops_file = next(folder.rglob("*.skops"))
    skops_file.write_bytes(skops_file.read_bytes() + b"tampered")
    r = predict(client, api_headers, model_id, [ROW])
    assert r.status_code == 503
    assert "changed since it was saved" in r.json["message"]
    assert any("do not match the digest" in rec.getMessage() for rec in caplog.records)
