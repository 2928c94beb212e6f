"""Prometheus metrics: prometheus-flask-exporter's HTTP metrics and the app's own.

Each app gets its own registry (several apps live in one test process); under
gunicorn, PROMETHEUS_MULTIPROC_DIR makes the exporter merge every worker's files.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from functools import wraps

from flask import Flask, current_app, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_flask_exporter import PrometheusMetrics

from app.errors import error_response

__version__ = "0.1.0"


def _require_metrics_token(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        expected = current_app.config.get("METRICS_TOKEN")
        if expected:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), expected):
                response = error_response(401, "The metrics token is required.")
                response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
                return response
        for refresh in current_app.extensions.get("metrics_refreshers", []):
            refresh()  # gauges read from the database at scrape time, the same in every process
        return view(*args, **kwargs)
    return wrapper


def add_metrics_refresher(app: Flask, refresh) -> None:
    app.extensions.setdefault("metrics_refreshers", []).append(refresh)


BYTES_BUCKETS = (1e3, 1e4, 1e5, 1e6, 1e7, 5e7, 1e8, 5e8, 1e9)
SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


@dataclass
class AppMetrics:
    """The app's own metrics (names of API.md). Labels carry ids and positions, never names."""

    uploads: Counter
    upload_bytes: Histogram
    ingest_seconds: Histogram
    training_jobs: Counter
    training_seconds: Histogram
    jobs_running: Gauge
    predictions: Counter
    prediction_latency: Histogram
    model_score: Gauge
    feature_drift: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> AppMetrics:
        p = "csv_analyzer_"
        return cls(
            uploads=Counter(p + "uploads_total", "Datasets uploaded", registry=registry),
            upload_bytes=Histogram(p + "upload_bytes", "Size of accepted uploads", buckets=BYTES_BUCKETS,
                                   registry=registry),
            ingest_seconds=Histogram(p + "ingest_duration_seconds", "Time to read and store an upload",
                                     buckets=SECONDS_BUCKETS, registry=registry),
            training_jobs=Counter(p + "training_jobs_total", "Training jobs by final status", ["status"],
                                  registry=registry),
            training_seconds=Histogram(p + "training_duration_seconds", "Running time of training jobs",
                                       buckets=SECONDS_BUCKETS, registry=registry),
            jobs_running=Gauge(p + "jobs_running", "Jobs running now", multiprocess_mode="mostrecent",
                               registry=registry),
            predictions=Counter(p + "predictions_total", "Rows predicted", ["model_id"], registry=registry),
            prediction_latency=Histogram(p + "prediction_latency_seconds", "Time to answer a prediction call",
                                         ["model_id"], buckets=LATENCY_BUCKETS, registry=registry),
            model_score=Gauge(p + "model_score", "Held-out score of a model", ["model_id", "metric"],
                              multiprocess_mode="mostrecent", registry=registry),
            feature_drift=Gauge(p + "feature_drift_psi", "Population stability index of a feature",
                                ["model_id", "feature"], multiprocess_mode="mostrecent", registry=registry),
        )


MODEL_LABELLED = ("predictions", "prediction_latency", "model_score", "feature_drift")  # model_id label


def _multiprocess() -> bool:
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ


def forget_model(model_id: int) -> None:
    """Drop a deleted model's series from this process's metrics.

    Under gunicorn (PROMETHEUS_MULTIPROC_DIR) prometheus_client cannot remove a label set: the
    values stay in every process's files. There /metrics leaves out the series of models that no
    longer exist instead (`LiveModelsOnly`), which also covers models deleted by another process.
    """
    if _multiprocess():
        return
    metrics = current_app.extensions.get("app_metrics")
    if metrics is None:
        return
    for name in MODEL_LABELLED:
        getattr(metrics, name).remove_by_labels({"model_id": str(model_id)})


class LiveModelsOnly:
    """A collector of `source`'s metrics without the samples of models not in `live` (ids as text)."""

    def __init__(self, source, live: set[str]):
        self.source = source
        self.live = live

    def collect(self):
        for family in self.source.collect():
            family.samples = [s for s in family.samples
                              if s.labels.get("model_id") is None or s.labels["model_id"] in self.live]
            yield family


def live_model_ids() -> set[str] | None:
    """The ids of the models that exist (None when the database cannot say)."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from app.extensions import db
    from app.models import TrainedModel

    try:
        return {str(i) for i in db.session.scalars(select(TrainedModel.id))}
    except SQLAlchemyError:
        db.session.rollback()
        return None


class AppPrometheusMetrics(PrometheusMetrics):
    """prometheus-flask-exporter whose /metrics leaves out the series of deleted models."""

    def generate_metrics(self, accept_header=None, names=None):
        live = live_model_ids()
        if live is None:
            return super().generate_metrics(accept_header, names)
        if _multiprocess():
            source = CollectorRegistry()
            MultiProcessCollector(source)
        else:
            source = self.registry
        if names:
            source = source.restricted_registry(names)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(LiveModelsOnly(source, live))
        encode, content_type = choose_encoder(accept_header)
        return encode(registry).decode("utf-8"), content_type


def refresh_model_scores() -> None:
    """At scrape time: the held-out score of every model from the database, whichever process
    (a job's child process, a Celery worker) trained it."""
    import logging
    import math

    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from app.extensions import db
    from app.models import TrainedModel

    try:
        rows = db.session.execute(select(TrainedModel.id, TrainedModel.metric, TrainedModel.test_score)
                                  .where(TrainedModel.test_score.is_not(None))).all()
    except SQLAlchemyError:  # /metrics answers without the database
        db.session.rollback()
        logging.getLogger(__name__).warning("metrics: could not read the model scores", exc_info=True)
        return
    gauge = app_metrics().model_score
    for model_id, metric, score in rows:
        if math.isfinite(score):
            gauge.labels(model_id=str(model_id), metric=metric).set(score)


def app_metrics() -> AppMetrics:
    return current_app.extensions["app_metrics"]


def init_metrics(app: Flask) -> PrometheusMetrics:
    registry = CollectorRegistry(auto_describe=True)
    metrics = AppPrometheusMetrics(
        app, registry=registry, group_by="url_rule", defaults_prefix="flask",
        metrics_decorator=_require_metrics_token,
        excluded_paths=["^/static/", "^/healthz$", "^/readyz$"],
    )
    metrics.info("app_info", "CSV Analyzer version", version=__version__)
    app.extensions["prometheus"] = metrics
    app.extensions["app_metrics"] = app_metrics_ = AppMetrics.create(registry)
    for status in ("succeeded", "failed", "cancelled"):
        app_metrics_.training_jobs.labels(status=status)  # every series exists from the start
    app.extensions["metrics_registry"] = registry
    add_metrics_refresher(app, refresh_model_scores)
    return metrics
