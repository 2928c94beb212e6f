"""One pass through the journey on the app as `make run` serves it (gunicorn, multiprocess
metrics: the suite's shared live server), scraped every second by a real Prometheus; then what
Prometheus holds is checked: the metric names of the API contract with their labels, every name
a Grafana panel or a rule uses, and every dashboard query.

Issue #7: "The metric names above appear on /metrics after one pass through the journey; ...
every dashboard query is accepted by a real Prometheus scraping the app and names only
metrics that exist".
"""

from __future__ import annotations

import csv
import math
import re
import time

import pytest
import requests
from monitoring_queries import (
    CONTRACT_METRIC_NAMES,
    monitoring_exprs,
    refused_queries,
    used_metric_names,
)
from prometheus_helpers import Prometheus, require_tool, start_node_exporter, start_prometheus

from tests.live_server import LIVE_METRICS_TOKEN, ROOT

pytestmark = pytest.mark.slow

PENGUINS = ROOT / "app" / "sample_data" / "penguins.csv"
METRICS_TOKEN = LIVE_METRICS_TOKEN
N_PREDICTIONS = 110  # drift needs at least 100 sampled rows (sample rate 1.0 by default)
APP_PREFIXES = ("csv_analyzer_", "flask_")


def penguin_rows() -> list[dict]:
    """The sample's feature rows (target dropped; NA is null, numbers as numbers)."""
    rows = []
    with PENGUINS.open(newline="") as f:
        for raw in csv.DictReader(f):
            row = {}
            for key, value in raw.items():
                if key == "species":
                    continue
                if value in ("", "NA"):
                    row[key] = None
                else:
                    try:
                        row[key] = float(value)
                    except ValueError:
                        row[key] = value
            rows.append(row)
    return rows


def play_the_journey(base: str) -> dict:
    """Register, upload, train, predict, drift, actuals over the REST API; returns what it made."""
    http = requests.Session()
    email, password = "journey@example.com", "a long enough password"
    r = http.post(f"{base}/api/v1/auth/register", json={"email": email, "password": password}, timeout=30)
    assert r.status_code == 201, r.text
    r = http.post(f"{base}/api/v1/auth/tokens", json={"email": email, "password": password, "name": "journey"},
                  timeout=30)
    assert r.status_code == 201, r.text
    http.headers["Authorization"] = f"Bearer {r.json()['token']}"

    with PENGUINS.open("rb") as f:
        r = http.post(f"{base}/api/v1/datasets", files={"file": ("penguins.csv", f, "text/csv")}, timeout=60)
    assert r.status_code == 201, r.text
    dataset_id = r.json()["id"]

    r = http.post(f"{base}/api/v1/training-jobs", timeout=30, json={
        "dataset_id": dataset_id, "target": "species", "time_budget_s": 5, "models": ["logistic_regression"],
        "max_candidates": 1})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + 120
    while True:
        job = http.get(f"{base}/api/v1/training-jobs/{job_id}", timeout=30).json()
        if job["status"] in {"succeeded", "failed", "cancelled"} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job["status"] == "succeeded", job
    model_id = job["best_model_id"]

    prediction_ids = []
    rows = penguin_rows()
    for i in range(N_PREDICTIONS):
        r = http.post(f"{base}/api/v1/models/{model_id}/predict", json={"rows": [rows[i % len(rows)]]}, timeout=30)
        assert r.status_code == 200, r.text
        prediction_ids += r.json()["prediction_ids"]

    r = http.get(f"{base}/api/v1/models/{model_id}/drift", params={"window": "1h"}, timeout=60)
    assert r.status_code == 200, r.text
    drift = r.json()
    assert drift["n_samples"] >= 100 and drift["status"] in {"ok", "warning", "drift"}, drift

    r = http.post(f"{base}/api/v1/models/{model_id}/actuals", timeout=30,
                  json={"actuals": [{"prediction_id": pid, "value": "Adelie"} for pid in prediction_ids[:20]]})
    assert r.status_code == 200, r.text
    assert r.json()["matched"] == 20
    return {"model_id": model_id, "n_features": len(drift["features"]),
            "feature_names": {f["name"] for f in drift["features"]}}


def series(prom: Prometheus, selector: str) -> list[dict]:
    status, body = prom.api("series", **{"match[]": selector})
    assert status == 200 and body["status"] == "success", body
    return body["data"]


def wait_for_a_scrape_after(prom: Prometheus, moment: float, timeout: float = 30) -> None:
    """Until the web target's last successful scrape started after `moment` (Unix time)."""
    deadline = time.monotonic() + timeout
    while True:
        [web] = [t for t in prom.targets() if t["labels"]["job"] == "web"]
        if web["health"] == "up" and web["lastScrape"] and _unix(web["lastScrape"]) > moment:
            return
        assert time.monotonic() < deadline, f"no scrape of the app after the journey: {web}"
        time.sleep(0.3)


def _unix(rfc3339: str) -> float:
    """Prometheus's RFC 3339 time (nanoseconds, Z or an offset) as Unix seconds."""
    from datetime import datetime

    match = re.fullmatch(r"(.+?T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", rfc3339)
    assert match, rfc3339
    whole, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone)).timestamp()
    return stamp + float(fraction or 0)


@pytest.fixture(scope="module")
def scraped(live_server):
    """(Prometheus, journey) once the app has been scraped after one pass through the journey.

    The app is the suite's shared gunicorn server (started with METRICS_TOKEN): other tests' requests
    only add series; the journey's own are told apart by its model id."""
    require_tool("prometheus")  # skips locally, fails under CI
    base_url = live_server
    r = requests.get(f"{base_url}/metrics", timeout=10)
    assert r.status_code == 401, "METRICS_TOKEN reached the server"
    web = base_url.removeprefix("http://")
    try:
        node_cm = start_node_exporter()
        node = node_cm.__enter__()
    except pytest.skip.Exception:
        node_cm, node = None, None  # host names are checked only with node-exporter (CI)
    try:
        targets = {"web": [web], **({"node": [node]} if node else {})}
        with start_prometheus(targets, metrics_token=METRICS_TOKEN) as prom:
            prom.wait_for_targets(set(targets), timeout=60)
            journey = play_the_journey(base_url)
            wait_for_a_scrape_after(prom, time.time())
            yield prom, {**journey, "node": node is not None}
    finally:
        if node_cm is not None:
            node_cm.__exit__(None, None, None)


def test_every_metric_of_the_api_contract_has_series_after_the_journey(scraped):
    prom, _ = scraped
    missing = [name for name in sorted(CONTRACT_METRIC_NAMES) if not series(prom, f'{name}{{job="web"}}')]
    assert not missing, f"no series after one pass through the journey: {missing}"


def test_the_series_carry_the_model_id_status_and_feature_position(scraped):
    prom, journey = scraped
    model_id = str(journey["model_id"])
    [predicted] = prom.query(f'sum(csv_analyzer_predictions_total{{job="web", model_id="{model_id}"}})')
    assert float(predicted["value"][1]) >= N_PREDICTIONS
    assert series(prom, f'csv_analyzer_prediction_latency_seconds_bucket{{model_id="{model_id}"}}')
    [succeeded] = prom.query('sum(csv_analyzer_training_jobs_total{job="web", status="succeeded"})')
    assert float(succeeded["value"][1]) >= 1
    [uploads] = prom.query('sum(csv_analyzer_uploads_total{job="web"})')
    assert float(uploads["value"][1]) >= 1

    scores = series(prom, f'csv_analyzer_model_score{{model_id="{model_id}"}}')
    assert scores and all(s["metric"] for s in scores), scores
    for row in prom.query(f'csv_analyzer_model_score{{model_id="{model_id}"}}'):
        assert math.isfinite(float(row["value"][1])), row

    drift = series(prom, f'csv_analyzer_feature_drift_psi{{job="web", model_id="{model_id}"}}')
    features = {s["feature"] for s in drift}
    assert features == {str(i) for i in range(journey["n_features"])}, "a feature is its position"
    assert not features & journey["feature_names"]


def test_every_app_metric_a_panel_or_rule_uses_has_series_after_the_journey(scraped):
    prom, journey = scraped
    used = used_metric_names()
    app_names = {name for name in used if name.startswith(APP_PREFIXES)}
    assert {"csv_analyzer_predictions_total", "csv_analyzer_feature_drift_psi"} <= app_names
    empty = [f"{name} ({', '.join(used[name])})" for name in sorted(app_names) if not series(prom, name)]
    assert not empty, "names a panel or rule uses with no series after the journey:\n" + "\n".join(empty)
    if journey["node"]:
        host = [name for name in sorted(used) if name.startswith("node_") and not series(prom, name)]
        assert not host, host


def test_prometheus_accepts_every_dashboard_query_after_the_journey(scraped):
    prom, _ = scraped
    exprs = monitoring_exprs()
    assert len(exprs) > 50
    refused = refused_queries(prom, exprs)
    assert not refused, "\n".join(refused)
