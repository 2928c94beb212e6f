"""GET /api/v1/metrics: the caller's own figures only; the global HTTP block for admins alone."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.functional import test_predictions_api as predictions

model_id = predictions.model_id  # a model trained in-process (the fixture of the prediction tests)


def add_rows(app, user_id: int, *, datasets: int = 0, jobs: tuple[str, ...] = (), models: int = 0) -> list[int]:
    """Datasets, jobs and models of a user written directly; returns the model ids."""
    from app.extensions import db
    from app.models import Dataset, Job, TrainedModel

    with app.app_context():
        for i in range(datasets):
            db.session.add(Dataset(user_id=user_id, name=f"secret-dataset-{user_id}-{i}", source_path="x.csv"))
        for i, status in enumerate(jobs):
            db.session.add(Job(user_id=user_id, kind="training", status=status, request={},
                               request_key=f"{user_id}-{i}"))
        made = [TrainedModel(user_id=user_id, version=1, family="tree", algorithm=f"Algo-{user_id}-{i}",
                             task="classification", target=f"target-of-{user_id}", metric="accuracy")
                for i in range(models)]
        db.session.add_all(made)
        db.session.commit()
        return [m.id for m in made]


def record_predictions(app, user_id: int, model_id: int, latencies_ms: list[float], rows_per_call: int = 1):
    from app.blueprints.monitoring.request_stats import stats_buffer

    with app.app_context():
        for ms in latencies_ms:
            stats_buffer().add_prediction(user_id, model_id, rows_per_call, ms)


def bearer(make_token, user_id: int) -> dict:
    return {"Authorization": f"Bearer {make_token(user_id)}"}


def test_anonymous_is_401(client):
    r = client.get("/api/v1/metrics")
    assert r.status_code == 401
    assert "WWW-Authenticate" in r.headers


def test_own_figures_only(app, client, make_user, make_token):
    ada, _ = make_user("ada@example.com", admin=False)
    bob, bob_email = make_user("bob@example.com", admin=False)
    (ada_model,) = add_rows(app, ada, datasets=2, jobs=("succeeded", "succeeded", "failed", "queued"), models=1)
    (bob_model,) = add_rows(app, bob, datasets=3, jobs=("failed",), models=1)
    record_predictions(app, ada, ada_model, [4, 6, 8, 300], rows_per_call=5)
    record_predictions(app, bob, bob_model, [20] * 7)

    r = client.get("/api/v1/metrics", headers=bearer(make_token, ada))
    assert r.status_code == 200, r.json
    body = r.json
    assert body["datasets"] == 2
    assert body["jobs"] == {"queued": 1, "running": 0, "succeeded": 2, "failed": 1, "cancelled": 0}
    assert [m["model_id"] for m in body["models"]] == [ada_model]
    model = body["models"][0]
    assert model["calls"] == 4 and model["predictions"] == 20
    assert 5 < model["p50_latency_ms"] <= 10
    assert 250 < model["p95_latency_ms"] <= 300
    assert model["last_prediction_at"]
    assert "http" not in body  # not an admin
    text = r.get_data(as_text=True)
    assert str(bob_model) not in {str(m["model_id"]) for m in body["models"]}
    assert bob_email not in text and f"Algo-{bob}-" not in text and f"target-of-{bob}" not in text


def test_a_user_without_anything_gets_zeros(client, make_user, make_token):
    user, _ = make_user(admin=False)
    r = client.get("/api/v1/metrics", headers=bearer(make_token, user))
    assert r.status_code == 200
    assert r.json["datasets"] == 0 and r.json["models"] == []
    assert set(r.json["jobs"].values()) == {0}


def test_admin_gets_global_http_figures(app, client, make_user, make_token):
    admin, _ = make_user("root@example.com", admin=True)
    user, _ = make_user("ada@example.com", admin=False)
    user_headers = bearer(make_token, user)
    for _ in range(3):
        assert client.get("/api/v1/datasets", headers=user_headers).status_code == 200
    assert client.get("/api/v1/datasets/999999", headers=user_headers).status_code == 404
    client.get("/healthz")  # not counted
    client.get("/no-such-page")  # an anonymous 404 counts

    r = client.get("/api/v1/metrics", headers=bearer(make_token, admin))
    assert r.status_code == 200
    http = r.json["http"]
    assert http["window_minutes"] == 60
    assert http["requests"] == 5  # 3 + the 404 + the anonymous 404; health and this call not yet
    assert http["errors_4xx"] == 2 and http["errors_5xx"] == 0
    assert http["error_rate"] == pytest.approx(2 / 5)
    assert http["p95_latency_ms"] is not None and http["p95_latency_ms"] > 0
    assert set(http) >= {"requests", "error_rate", "p95_latency_ms"}

    r = client.get("/api/v1/metrics", headers=user_headers)
    assert "http" not in r.json


def test_window_is_validated(client, make_user, make_token):
    user, _ = make_user(admin=False)
    r = client.get("/api/v1/metrics?hours=0", headers=bearer(make_token, user))
    assert r.status_code == 422


def test_account_erasure_keeps_only_anonymous_request_totals(app, client, make_user, make_token):
    from sqlalchemy import func, select

    from app.blueprints.monitoring.request_stats import flush
    from app.extensions import db
    from app.models import PredictionStat, RequestStat

    user, _ = make_user(admin=False)
    headers = bearer(make_token, user)
    (model,) = add_rows(app, user, models=1)
    record_predictions(app, user, model, [5, 5])
    client.get("/api/v1/datasets", headers=headers)
    with app.app_context():
        flush()
        assert db.session.scalar(select(func.count()).where(RequestStat.user_id == user)) > 0
    client.get("/api/v1/datasets", headers=headers)  # still in memory when the account goes
    r = client.delete("/api/v1/auth/me", headers=headers, json={"password": PASSWORD})
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    with app.app_context():
        flush()
        assert db.session.scalar(select(func.count()).where(RequestStat.user_id == user)) == 0
        assert db.session.scalar(select(func.count()).select_from(PredictionStat)) == 0
        assert db.session.scalar(select(func.sum(RequestStat.count))) >= 2  # totals stay, anonymous


def test_real_prediction_calls_are_counted_per_model(client, api_headers, model_id):
    for rows in ([predictions.ROW], [predictions.ROW] * 3):
        r = client.post(f"/api/v1/models/{model_id}/predict", headers=api_headers, json={"rows": rows})
        assert r.status_code == 200, r.json
    body = client.get("/api/v1/metrics", headers=api_headers).json
    (model,) = [m for m in body["models"] if m["model_id"] == model_id]
    assert model["calls"] == 2 and model["predictions"] == 4
    assert model["p50_latency_ms"] > 0
