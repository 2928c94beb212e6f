"""Prediction samples of the JSON endpoint without a count query on every call.

The PREDICTION_SAMPLE_MAX_PER_DAY cap needs today's count of stored samples of the model.
Counting before each insert is one more query per request on the single-row hot path, so
each process keeps the count it last read plus what it stored since, and reads it again
every REFRESH_S seconds, or on every call once the model is within NEAR_CAP samples of
its cap (then the cap holds strictly).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import PredictionLog, TrainedModel
from app.models.user import utcnow

REFRESH_S = 30.0
NEAR_CAP = 1_000


class SampleBudget:
    """Per-process estimate of the samples stored in the last day, per model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[int, tuple[int, float]] = {}

    def room(self, model_id: int, cap: int) -> int:
        now = time.monotonic()
        with self._lock:
            known = self._counts.get(model_id)
        if known is None or now - known[1] > REFRESH_S or known[0] + NEAR_CAP >= cap:
            since = utcnow() - timedelta(days=1)
            count = db.session.scalar(select(func.count(PredictionLog.id)).where(
                PredictionLog.model_id == model_id, PredictionLog.created_at >= since)) or 0
            known = (count, now)
            with self._lock:
                self._counts[model_id] = known
        return max(0, cap - known[0])

    def stored(self, model_id: int, n: int) -> None:
        with self._lock:
            count, read_at = self._counts.get(model_id, (0, 0.0))
            self._counts[model_id] = (count + n, read_at)

    def forget(self, model_id: int) -> None:
        with self._lock:
            self._counts.pop(model_id, None)


def sample_budget() -> SampleBudget:
    return current_app.extensions.setdefault("prediction_sample_budget", SampleBudget())


def log_sampled(model: TrainedModel, rows: list, predictions: list, probabilities: list | None) -> list[str]:
    """Ids for every prediction; a sample stored with its inputs (committed here)."""
    from app.blueprints.prediction.service import _json_safe

    ids = [uuid.uuid4().hex for _ in predictions]
    rate = float(current_app.config.get("PREDICTION_SAMPLE_RATE", 1.0))
    cap = int(current_app.config.get("PREDICTION_SAMPLE_MAX_PER_DAY", 10_000))
    chosen = [i for i in range(len(ids)) if rate >= 1.0 or random.random() < rate]  # noqa: S311
    budget = sample_budget()
    if chosen:
        chosen = chosen[:budget.room(model.id, cap)]
    names = [f["name"] for f in model.features]
    for i in chosen:
        row = rows[i] if isinstance(rows[i], dict) else {}
        prediction = {"value": predictions[i]}
        if probabilities is not None:
            prediction["probabilities"] = probabilities[i]
        db.session.add(PredictionLog(uid=ids[i], model_id=model.id, user_id=model.user_id,
                                     inputs={n: _json_safe(row.get(n)) for n in names}, prediction=prediction))
    db.session.commit()  # also what the request changed before (a token's last use)
    budget.stored(model.id, len(chosen))
    return ids


def log_sampled_rows(model: TrainedModel, rows: list[dict], predictions: list, probabilities: list | None) -> None:
    """log_sampled's sample (rate, daily cap, inputs, prediction) in one executemany, without ids.

    For a batch's first rows, up to PREDICTION_SAMPLE_MAX_PER_DAY of them: as ORM objects they
    took ~9 s of a loaded machine before the first chunk of a job was reported; a bulk insert
    takes a fraction."""
    from app.blueprints.prediction.service import _json_safe

    rate = float(current_app.config.get("PREDICTION_SAMPLE_RATE", 1.0))
    cap = int(current_app.config.get("PREDICTION_SAMPLE_MAX_PER_DAY", 10_000))
    since = utcnow() - timedelta(days=1)
    stored_today = db.session.scalar(select(func.count(PredictionLog.id)).where(
        PredictionLog.model_id == model.id, PredictionLog.created_at >= since)) or 0
    room = max(0, cap - stored_today)
    chosen = [i for i in range(len(predictions)) if rate >= 1.0 or random.random() < rate][:room]  # noqa: S311
    if not chosen:
        return
    names = [f["name"] for f in model.features]
    now = utcnow()
    values = []
    for i in chosen:
        prediction = {"value": predictions[i]}
        if probabilities is not None:
            prediction["probabilities"] = probabilities[i]
        values.append({"uid": uuid.uuid4().hex, "model_id": model.id, "user_id": model.user_id, "created_at": now,
                       "inputs": {n: _json_safe(rows[i].get(n)) for n in names}, "prediction": prediction,
                       "actual": None, "actual_at": None})
    db.session.execute(insert(PredictionLog), values)
    db.session.commit()
