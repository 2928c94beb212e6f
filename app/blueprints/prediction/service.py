"""Prediction use cases: JSON rows through a cached model (batch files: batch.py).

Every call is counted and timed per model; a sample of the inputs is kept with the
prediction ids (PREDICTION_SAMPLE_RATE, at most PREDICTION_SAMPLE_MAX_PER_DAY per model)
for drift and live metrics.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pandas as pd
from flask import current_app

from app.blueprints.monitoring.request_stats import record_prediction
from app.blueprints.prediction.model_cache import model_cache
from app.blueprints.prediction.sampling import log_sampled
from app.blueprints.training import service as training
from app.errors import DomainError
from app.extensions import db
from app.ml.explain import explain
from app.ml.serving import InvalidInput, check_rows, predict
from app.ml.tracking import ModelTampered, load_model
from app.models import PredictionLog, TrainedModel, User
from app.models.user import utcnow
from app.telemetry import app_metrics

log = logging.getLogger(__name__)


def _setting(name: str, default):
    return current_app.config.get(name, default)


def loaded(model: TrainedModel):
    if not model.model_uri:
        raise DomainError("This model has no saved files.", status=404)
    uri = current_app.config["MLFLOW_TRACKING_URI"]
    try:
        return model_cache().get(model.id, model.model_uri,
                                 lambda model_uri: load_model(model_uri, uri, expected_sha256=model.files_sha256))
    except ModelTampered:
        log.error("model %s: its files do not match the digest recorded at training; not loaded", model.id)
        raise


def background_frame(model: TrainedModel) -> pd.DataFrame:
    return check_rows(model.background, model.features, max_rows=10_000).frame if model.background else \
        pd.DataFrame(columns=[f["name"] for f in model.features])


def predict_rows(user: User, model_id: int, rows: list, *, explain_rows: bool = False) -> dict:
    """The API's prediction answer for JSON rows (422 naming bad rows and features)."""
    started = time.perf_counter()
    model = model_cache().card(user.id, model_id)  # the row's JSON is decoded once per process
    try:
        checked = check_rows(rows, model.features, max_rows=_setting("PREDICT_MAX_ROWS", 10_000))
    except InvalidInput as exc:
        raise DomainError(exc.message, {"json": exc.errors}, status=exc.status) from exc
    pipeline = loaded(model)
    predictions, probabilities = predict(pipeline, checked, model.task, model.classes)
    answer = {"model_id": model.id, "predictions": predictions, "warnings": checked.warnings}
    if probabilities is not None:
        answer["probabilities"] = probabilities
    if explain_rows:
        background = background_frame(training.get_model(user, model_id))
        answer["reasons"] = explain(pipeline, checked.frame, background, model.task, predictions)
    answer["prediction_ids"] = log_sampled(model, rows, predictions, probabilities)
    _observe(model.id, len(predictions), time.perf_counter() - started)
    return answer


def _observe(model_id: int, n_rows: int, seconds: float) -> None:
    metrics = app_metrics()
    metrics.predictions.labels(model_id=str(model_id)).inc(n_rows)
    metrics.prediction_latency.labels(model_id=str(model_id)).observe(seconds)
    record_prediction(model_id, n_rows, seconds)  # the Monitoring page's figures (app's own store)


def _json_safe(value):
    if isinstance(value, float) and value != value:
        return None
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def purge_old_predictions(days: int) -> int:
    """Remove samples older than the retention (PREDICTION_RETENTION_DAYS)."""
    cutoff = utcnow() - timedelta(days=days)
    return db.session.execute(db.delete(PredictionLog).where(PredictionLog.created_at < cutoff)).rowcount or 0
