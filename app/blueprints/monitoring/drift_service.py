"""Drift and live accuracy use cases: sampled prediction inputs against the training data, actuals.

The training side is profiled once per model from its dataset version (feature columns only,
at most REFERENCE_ROWS rows) and kept in drift_references; every drift call then reads only
the prediction logs of the window. Computing drift sets the PSI gauge per model and feature
position, and keeps the figures so /metrics shows them in every process.
"""

from __future__ import annotations

import logging
import math
import warnings
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.blueprints.datasets import service as datasets
from app.blueprints.training import service as training
from app.errors import Conflict, DomainError
from app.extensions import db
from app.ml import drift
from app.ml.serving import InvalidInput, check_rows
from app.ml.training.metrics import classification_metrics, metrics_for, regression_metrics
from app.models import Dataset, PredictionLog, TrainedModel, User
from app.models.drift import DriftReference
from app.models.user import utcnow
from app.telemetry import app_metrics

log = logging.getLogger(__name__)

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7),
           "30d": timedelta(days=30)}
DEFAULT_WINDOW = "7d"
REFERENCE_ROWS = 20_000
RECENT_ROWS = 10_000  # sampled rows of the window compared (a seeded sample when it holds more)
MAX_ACTUALS = 10_000
LIVE_ROWS = 100_000


def check_window(window: str | None) -> str:
    window = window or DEFAULT_WINDOW
    if window not in WINDOWS:
        message = f"window must be one of {', '.join(WINDOWS)}."
        raise DomainError(message, {"query": {"window": [message]}})
    return window


# ---------------------------------------------------------------- the training reference


def reference(model: TrainedModel) -> dict:
    """The model's training profile, computed from its dataset version on first use."""
    row = db.session.get(DriftReference, model.id)
    if row is not None and row.profile.get("version") == drift.PROFILE_VERSION:
        return row.profile
    profile = drift.reference_profile(_training_frame(model), model.features)
    try:
        with db.session.begin_nested():
            if row is None:
                db.session.add(DriftReference(model_id=model.id, profile=profile))
            else:
                row.profile = profile
    except IntegrityError:  # another request stored it first: the same figures
        pass
    return profile


def _training_frame(model: TrainedModel) -> pd.DataFrame:
    """The feature columns of the rows the model learnt from (target present), a seeded sample."""
    dataset = db.session.get(Dataset, model.dataset_id) if model.dataset_id else None
    if dataset is None:
        raise Conflict("The dataset this model was trained on was deleted, so there is nothing to compare with.")
    path = datasets.version_path(datasets.get_version(dataset, model.version))
    names = [f["name"] for f in model.features]
    present = set(pq.read_schema(path).names)
    columns = [n for n in names if n in present]
    if model.target in present and model.target not in columns:
        columns.append(model.target)
    frame = pq.read_table(path, columns=columns).to_pandas()
    if model.target in frame.columns:
        frame = frame[frame[model.target].notna()]
    if len(frame) > REFERENCE_ROWS:
        frame = frame.sample(n=REFERENCE_ROWS, random_state=0)
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------- recent inputs


def _recent_frame(model: TrainedModel, inputs: list[dict]) -> pd.DataFrame:
    """Logged inputs read by the prediction rules (bad rows, if any, are left out)."""
    if not inputs:
        return pd.DataFrame(columns=[f["name"] for f in model.features])
    rows = [{f["name"]: (i or {}).get(f["name"]) for f in model.features} for i in inputs]
    try:
        return check_rows(rows, model.features, max_rows=len(rows)).frame
    except InvalidInput as exc:
        bad = {int(k) for k in (exc.errors.get("rows") or {}) if str(k).isdigit()}
        kept = [r for i, r in enumerate(rows) if i not in bad]
        return check_rows(kept, model.features, max_rows=len(kept)).frame if kept else \
            pd.DataFrame(columns=[f["name"] for f in model.features])


def _window_inputs(model: TrainedModel, window: str) -> tuple[int, list[dict]]:
    """How many rows the window holds, and the inputs of at most RECENT_ROWS of them spread over it."""
    since = utcnow() - WINDOWS[window]
    ids = list(db.session.scalars(select(PredictionLog.id).where(
        PredictionLog.model_id == model.id, PredictionLog.created_at >= since)))
    if len(ids) < drift.MIN_SAMPLES:
        return len(ids), []
    chosen = ids if len(ids) <= RECENT_ROWS else \
        np.random.default_rng(0).choice(np.asarray(ids), RECENT_ROWS, replace=False).tolist()
    inputs = []
    for start in range(0, len(chosen), 1000):
        inputs += db.session.scalars(select(PredictionLog.inputs).where(
            PredictionLog.id.in_(chosen[start:start + 1000])))
    return len(ids), inputs


def compute(model: TrainedModel, window: str) -> drift.DriftReport:
    """Drift of the model's sampled inputs over the window; sets the gauges when it was computed."""
    n, inputs = _window_inputs(model, window)
    if n < drift.MIN_SAMPLES:
        return drift.DriftReport(n_samples=n, status="insufficient_data", features=[])
    report = drift.compare(reference(model), _recent_frame(model, inputs), n_samples=n)
    if report.status != "insufficient_data":
        _publish(model, report)
    return report


def _publish(model: TrainedModel, report: drift.DriftReport) -> None:
    """The PSI gauge per feature position (never its name), kept for every process's /metrics."""
    values = [round(f.psi, 6) for f in report.features]
    gauge = app_metrics().feature_drift
    for position, value in enumerate(values):
        gauge.labels(model_id=str(model.id), feature=str(position)).set(value)
    row = db.session.get(DriftReference, model.id)
    if row is not None:
        row.last_psi = values
        row.last_computed_at = utcnow()
    db.session.flush()


def refresh_gauges() -> None:
    """At scrape time: the last PSI figures of every model, whichever process computed them."""
    try:
        rows = db.session.execute(select(DriftReference.model_id, DriftReference.last_psi)
                                  .where(DriftReference.last_psi.is_not(None))).all()
    except SQLAlchemyError:  # /metrics answers without the database
        db.session.rollback()
        log.warning("metrics: could not read the last drift figures", exc_info=True)
        return
    gauge = app_metrics().feature_drift
    for model_id, values in rows:
        for position, value in enumerate(values or []):
            if isinstance(value, int | float):
                gauge.labels(model_id=str(model_id), feature=str(position)).set(value)


def drift_answer(user: User, model_id: int, window: str | None) -> dict:
    """The API's drift resource (404 for another user's model, 422 for an unknown window)."""
    window = check_window(window)
    model = training.get_model(user, model_id)
    report = compute(model, window)
    return {"model_id": model.id, "window": window, "n_samples": report.n_samples, "status": report.status,
            "features": [f.summary() for f in report.features]}


def drift_panel(user: User, model_id: int, window: str | None) -> dict:
    """Everything the drift fragment shows: the table, a histogram per feature, live against held-out."""
    window = check_window(window)
    model = training.get_model(user, model_id)
    error = None
    try:
        report = compute(model, window)
    except Conflict as exc:
        report, error = drift.DriftReport(n_samples=0, status="unavailable", features=[]), exc.message
    return {
        "model_id": model.id, "title": f"{model.algorithm} · {model.target}", "window": window,
        "windows": list(WINDOWS), "n_samples": report.n_samples, "status": report.status, "error": error,
        "min_samples": drift.MIN_SAMPLES,
        "features": [dict(f.summary(), position=i, chart={"type": "drift", "feature": f.name, **f.histogram()})
                     for i, f in enumerate(report.features)],
        "metrics": live_against_held_out(model),
    }


# ---------------------------------------------------------------- actuals and live metrics


def record_actuals(user: User, model_id: int, actuals: list[dict]) -> dict:
    """Store each actual against its prediction; ids of other models or users simply do not match."""
    model = training.get_model(user, model_id)
    if len(actuals) > MAX_ACTUALS:
        raise DomainError(f"At most {MAX_ACTUALS} actuals per call.", {"json": {"actuals": [
            f"Longer than {MAX_ACTUALS}."]}}, status=413)
    values, errors = {}, {}
    for i, item in enumerate(actuals):
        try:
            values[str(item["prediction_id"])] = _actual_value(model, item["value"])
        except ValueError as exc:
            errors[str(i)] = {"value": [str(exc)]}
    if errors:
        raise DomainError("Some actuals do not fit the model's target.", {"json": {"actuals": errors}})
    matched = 0
    now = utcnow()
    for start in range(0, len(values), 500):
        ids = list(values)[start:start + 500]
        for row in db.session.scalars(select(PredictionLog).where(
                PredictionLog.uid.in_(ids), PredictionLog.model_id == model.id, PredictionLog.user_id == user.id)):
            row.actual, row.actual_at = {"value": values[row.uid]}, now
            matched += 1
    db.session.flush()
    return {"matched": matched, "live_metrics": live_metrics(model)}


def _actual_value(model: TrainedModel, value):
    """The actual as the model's target spells it, or ValueError saying what is expected."""
    if value is None or isinstance(value, dict | list):
        raise ValueError("Not a valid value: expected a number or a class label.")
    if model.task == "regression":
        if isinstance(value, bool):
            raise ValueError("Not a valid number.")
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError("Not a valid number.") from None
        if not math.isfinite(number):
            raise ValueError("Not a valid number.")
        return number
    classes = {_label(c): c for c in (model.classes or [])}
    label = _label(value)
    if label not in classes and isinstance(value, bool):
        label = next((c for c in classes if c.lower() in (("true", "yes", "1") if value else ("false", "no", "0"))),
                     label)
    if label not in classes:
        shown = ", ".join(list(classes)[:10])
        raise ValueError(f"Not one of the model's classes ({shown}).")
    return classes[label]


def _label(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def live_metrics(model: TrainedModel) -> dict:
    """The held-out metrics' names computed over every prediction with an actual, and n."""
    rows = db.session.execute(select(PredictionLog.prediction, PredictionLog.actual).where(
        PredictionLog.model_id == model.id, PredictionLog.actual.is_not(None))
        .order_by(PredictionLog.actual_at.desc()).limit(LIVE_ROWS)).all()
    pairs = [(p or {}, a["value"]) for p, a in rows if isinstance(a, dict) and "value" in a]
    names = list(model.metrics) or list(metrics_for(model.task))
    figures: dict = dict.fromkeys(names)
    if pairs:
        with warnings.catch_warnings():  # a class absent from the actuals leaves roc_auc undefined: null
            warnings.simplefilter("ignore")
            computed = _classification(model, pairs) if model.task == "classification" else _regression(pairs)
        figures.update({k: _finite(v) for k, v in computed.items() if k in figures})
    figures["n"] = len(pairs)
    return figures


def _classification(model: TrainedModel, pairs: list) -> dict:
    classes = np.array([_label(c) for c in model.classes or []], dtype=object)
    y_true = np.array([_label(actual) for _, actual in pairs], dtype=object)
    proba = np.zeros((len(pairs), len(classes)))
    for i, (prediction, _) in enumerate(pairs):
        given = prediction.get("probabilities") or {}
        if given:
            proba[i] = [float(given.get(str(c), 0.0)) for c in model.classes]
        else:  # no probabilities kept: the predicted class with certainty
            predicted = _label(prediction.get("value"))
            proba[i] = [1.0 if c == predicted else 0.0 for c in classes]
    return classification_metrics(y_true, proba, classes)


def _regression(pairs: list) -> dict:
    y_true = [float(actual) for _, actual in pairs]
    predicted = [float((prediction or {}).get("value") or 0.0) for prediction, _ in pairs]
    if len(pairs) < 2:  # r2 needs two rows
        return {k: v for k, v in regression_metrics(y_true * 2, predicted * 2).items() if k != "r2"}
    return regression_metrics(y_true, predicted)


def _finite(value):
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def live_against_held_out(model: TrainedModel) -> list[dict]:
    """Rows of the live/held-out table: metric, held-out value, live value, and how many actuals."""
    live = live_metrics(model)
    return [{"name": name, "held_out": _finite(model.metrics.get(name)), "live": live.get(name), "n": live["n"]}
            for name in model.metrics]
