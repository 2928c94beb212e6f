"""Drift and actuals over the API and the drift fragment: shifted against training-like inputs, windows,
live metrics from actuals, and per-user isolation."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.conftest import train_in_process
from tests.functional.test_datasets_api import upload
from tests.functional.test_predictions_api import ROW
from tests.functional.test_training_api import PENGUINS

FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"]


def train(app, client, headers, target: str = "species", family: str = "logistic_regression") -> int:
    """A small model on the penguins sample (uploaded for it), trained in-process by the real engine and job code."""
    dataset_id = upload(client, headers, PENGUINS, "penguins.csv").json["id"]
    return train_in_process(app, dataset_id, target=target, family=family)[1]


@pytest.fixture
def model_id(app, client, api_headers, tracking):
    return train(app, client, api_headers)


def training_rows() -> list[dict]:
    """The training file's own rows (inputs only): the most training-like inputs there are."""
    return [{k: row[k] for k in FEATURES} for row in csv.DictReader(io.StringIO(PENGUINS.decode()))]


def shifted_rows(n: int) -> list[dict]:
    """Inputs from another population: long bills, heavy birds, one island, no year seen in training."""
    return [{**ROW, "island": "Torgersen", "bill_length_mm": 60 + i % 7, "body_mass_g": 7000 + 10 * i,
             "flipper_length_mm": 240 + i % 5, "year": 2015} for i in range(n)]


def predict(client, headers, model_id, rows) -> dict:
    r = client.post(f"/api/v1/models/{model_id}/predict", headers=headers, json={"rows": rows})
    assert r.status_code == 200, r.json
    return r.json


def get_drift(client, headers, model_id, **query):
    return client.get(f"/api/v1/models/{model_id}/drift", headers=headers, query_string=query)


def psi_gauge(client, model_id: int) -> dict[str, float]:
    values = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("csv_analyzer_feature_drift_psi{") and f'model_id="{model_id}"' in line:
            labels, value = line.rsplit(" ", 1)
            values[labels.split('feature="')[1].split('"')[0]] = float(value)
    return values


def test_training_like_inputs_are_ok_and_shifted_inputs_drift(app, client, api_headers, model_id, login,
                                                               make_config):
    r = get_drift(client, api_headers, model_id)
    assert r.status_code == 200, r.json
    assert r.json == {"model_id": model_id, "window": "7d", "n_samples": 0, "status": "insufficient_data",
                      "features": []}

    predict(client, api_headers, model_id, training_rows())
    r = get_drift(client, api_headers, model_id)
    assert r.status_code == 200 and r.json["n_samples"] == 344
    assert r.json["status"] == "ok", r.json
    features = {f["name"]: f for f in r.json["features"]}
    assert list(features) == FEATURES  # in the model's input order
    assert features["bill_length_mm"]["test"] == "ks" and features["island"]["test"] == "chi2"
    assert all(f["psi"] < 0.1 and f["status"] == "ok" for f in features.values())
    assert all(f["p_value"] is None or f["p_value"] > 0.05 for f in features.values())
    gauge = psi_gauge(client, model_id)
    assert set(gauge) == {str(i) for i in range(len(FEATURES))}  # positions, never names
    assert all(v < 0.1 for v in gauge.values())

    # the training-like rows leave the 1h window; shifted rows arrive
    from app.extensions import db
    from app.models import PredictionLog
    from app.models.user import utcnow

    with app.app_context():
        db.session.query(PredictionLog).filter_by(model_id=model_id).update(
            {PredictionLog.created_at: utcnow() - timedelta(hours=3)})
        db.session.commit()
    predict(client, api_headers, model_id, shifted_rows(150))
    r = get_drift(client, api_headers, model_id, window="1h")
    assert r.status_code == 200 and r.json["window"] == "1h" and r.json["n_samples"] == 150
    assert r.json["status"] == "drift", r.json
    features = {f["name"]: f for f in r.json["features"]}
    for name in ("island", "bill_length_mm", "body_mass_g", "flipper_length_mm", "year"):
        assert features[name]["status"] == "drift" and features[name]["psi"] > 0.2, name
        assert features[name]["p_value"] < 0.001, name
    assert psi_gauge(client, model_id)[str(FEATURES.index("body_mass_g"))] > 0.2
    # another process (another app on the same database) exports the same figures at scrape time
    from app import create_app

    elsewhere = psi_gauge(create_app(make_config()).test_client(), model_id)
    assert elsewhere == psi_gauge(client, model_id)
    r = get_drift(client, api_headers, model_id, window="30d")
    assert r.json["n_samples"] == 344 + 150 and r.json["status"] == "drift"

    # the fragment of the Monitoring page shows the same table and a chart per feature
    login()
    page = drift_fragment(client, model_id, "1h")
    assert page.count("data-drift-chart=") == len(FEATURES)
    assert 'data-status="drift"' in page and 'id="drift-table-' in page


def test_fewer_than_100_samples_is_insufficient_and_windows_are_checked(app, client, api_headers, model_id):
    predict(client, api_headers, model_id, shifted_rows(99))
    r = get_drift(client, api_headers, model_id, window="24h")
    assert r.status_code == 200
    assert r.json["status"] == "insufficient_data" and r.json["n_samples"] == 99 and r.json["features"] == []
    for bad in ("2h", "7", "", "week"):
        r = get_drift(client, api_headers, model_id, window=bad)
        assert r.status_code == 422, bad
        assert "window" in r.json["errors"]["query"]
    predict(client, api_headers, model_id, shifted_rows(1))
    assert get_drift(client, api_headers, model_id, window="24h").json["status"] == "drift"

    # the training profile was kept with the model: deleting the dataset leaves drift working
    from app.extensions import db
    from app.models import TrainedModel
    from app.models.drift import DriftReference

    with app.app_context():
        dataset_id = db.session.get(TrainedModel, model_id).dataset_id
    assert client.delete(f"/api/v1/datasets/{dataset_id}", headers=api_headers).status_code == 204
    assert get_drift(client, api_headers, model_id).json["status"] == "drift"
    with app.app_context():  # without it, there is nothing left to compare with: 409, not a server error
        db.session.query(DriftReference).delete()
        db.session.commit()
    r = get_drift(client, api_headers, model_id)
    assert r.status_code == 409 and "deleted" in r.json["message"]


def test_actuals_give_live_metrics(client, api_headers, model_id, login):
    rows = training_rows()[:40]
    answer = predict(client, api_headers, model_id, rows)
    ids, predictions = answer["prediction_ids"], answer["predictions"]
    truth = [row["species"] for row in csv.DictReader(io.StringIO(PENGUINS.decode()))][:40]
    # the first 30 with their true species; one unknown id is simply not matched
    actuals = [{"prediction_id": i, "value": v} for i, v in zip(ids[:30], truth[:30], strict=True)]
    r = client.post(f"/api/v1/models/{model_id}/actuals", headers=api_headers,
                    json={"actuals": [*actuals, {"prediction_id": "0" * 32, "value": "Adelie"}]})
    assert r.status_code == 200, r.json
    assert r.json["matched"] == 30
    live = r.json["live_metrics"]
    assert live["n"] == 30
    expected = sum(p == t for p, t in zip(predictions[:30], truth[:30], strict=True)) / 30
    assert live["accuracy"] == pytest.approx(expected)
    assert {"accuracy", "f1_macro", "balanced_accuracy", "log_loss"} <= set(live)

    # the last 10 deliberately wrong: live accuracy over all 40 actuals drops
    wrong = [{"prediction_id": i, "value": "Chinstrap" if p != "Chinstrap" else "Adelie"}
             for i, p in zip(ids[30:], predictions[30:], strict=True)]
    r = client.post(f"/api/v1/models/{model_id}/actuals", headers=api_headers, json={"actuals": wrong})
    assert r.status_code == 200 and r.json["matched"] == 10 and r.json["live_metrics"]["n"] == 40
    assert r.json["live_metrics"]["accuracy"] == pytest.approx(expected * 30 / 40)

    # values that are not one of the classes are refused, naming the item
    for bad in ("Emperor", None, {"a": 1}, [1]):
        r = client.post(f"/api/v1/models/{model_id}/actuals", headers=api_headers,
                        json={"actuals": [actuals[0], {"prediction_id": ids[1], "value": bad}]})
        assert r.status_code == 422, bad
        assert list(r.json["errors"]["json"]["actuals"]) == ["1"]
    for body in ({}, {"actuals": "x"}, {"actuals": [{"value": 1}]}):
        assert client.post(f"/api/v1/models/{model_id}/actuals", headers=api_headers, json=body).status_code == 422

    login()
    page = drift_fragment(client, model_id, "7d")
    assert 'id="drift-live-' in page and "Live (40 actuals)" in page
    full = client.get(f"/monitoring/models/{model_id}/drift").get_data(as_text=True)  # without htmx: a page
    assert "<html" in full and 'id="drift-live-' in full
    assert f"/monitoring/models/{model_id}/drift" in client.get(f"/models/{model_id}").get_data(as_text=True)
    assert client.get(f"/monitoring/models/{model_id}/drift?window=2h", headers={"HX-Request": "true"}).status_code == 422


def test_regression_actuals_must_be_numbers(app, client, api_headers, tracking):
    model_id = train(app, client, api_headers, target="body_mass_g", family="ridge")
    answer = predict(client, api_headers, model_id, [{k: v for k, v in ROW.items() if k != "body_mass_g"}
                                                     | {"species": "Gentoo"}] * 3)
    ids = answer["prediction_ids"]
    url = f"/api/v1/models/{model_id}/actuals"
    for bad in ("heavy", True, None):
        r = client.post(url, headers=api_headers, json={"actuals": [{"prediction_id": ids[0], "value": bad}]})
        assert r.status_code == 422 and r.json["errors"]["json"]["actuals"]["0"]["value"], bad
    r = client.post(url, headers=api_headers, json={"actuals": [
        {"prediction_id": ids[0], "value": 5000}, {"prediction_id": ids[1], "value": "5400.5"}]})
    assert r.status_code == 200 and r.json["matched"] == 2
    live = r.json["live_metrics"]
    assert set(live) == {"r2", "rmse", "mae", "n"} and live["n"] == 2
    predicted = answer["predictions"][0]
    assert live["mae"] == pytest.approx((abs(predicted - 5000) + abs(predicted - 5400.5)) / 2)


def test_another_users_model_is_404_and_their_prediction_ids_do_not_match(
        app, client, api_headers, model_id, make_user, make_token, login):
    ids = predict(client, api_headers, model_id, [ROW, ROW])["prediction_ids"]
    other = {"Authorization": f"Bearer {make_token(make_user('eve@example.com')[0])}"}
    assert get_drift(client, other, model_id).status_code == 404
    login("eve@example.com")
    assert client.get(f"/monitoring/models/{model_id}/drift", headers={"HX-Request": "true"}).status_code == 404
    r = client.post(f"/api/v1/models/{model_id}/actuals", headers=other,
                    json={"actuals": [{"prediction_id": ids[0], "value": "Gentoo"}]})
    assert r.status_code == 404
    eve_model = train(app, client, other)
    r = client.post(f"/api/v1/models/{eve_model}/actuals", headers=other,
                    json={"actuals": [{"prediction_id": i, "value": "Gentoo"} for i in ids]})
    assert r.status_code == 200 and r.json["matched"] == 0 and r.json["live_metrics"]["n"] == 0
    assert client.post(f"/api/v1/models/{eve_model}/actuals", headers=api_headers,
                       json={"actuals": [{"prediction_id": ids[0], "value": "Gentoo"}]}).status_code == 404
    from app.extensions import db
    from app.models import PredictionLog

    with app.app_context():
        assert db.session.query(PredictionLog).filter(PredictionLog.actual.is_not(None)).count() == 0


def drift_fragment(client, model_id: int, window: str) -> str:
    """The drift panel as htmx asks for it (the client is logged in)."""
    r = client.get(f"/monitoring/models/{model_id}/drift", query_string={"window": window},
                   headers={"HX-Request": "true"})
    assert r.status_code == 200, r.data[:500]
    text = r.get_data(as_text=True)
    assert "<html" not in text  # a fragment, not a page
    return text
