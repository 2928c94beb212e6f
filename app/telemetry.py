"""Prometheus metrics: prometheus-flask-exporter's HTTP metrics and the app's own.

Each app gets its own registry (several apps live in one test process); under
gunicorn, PROMETHEUS_MULTIPROC_DIR makes the exporter merge every worker's files.
"""

from __future__ import annotations

import hmac
from functools import wraps

from flask import Flask, current_app, request
from prometheus_client import CollectorRegistry
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
        return view(*args, **kwargs)
    return wrapper


def init_metrics(app: Flask) -> PrometheusMetrics:
    registry = CollectorRegistry(auto_describe=True)
    metrics = PrometheusMetrics(
        app, registry=registry, group_by="url_rule", defaults_prefix="flask",
        metrics_decorator=_require_metrics_token,
        excluded_paths=["^/static/", "^/healthz$", "^/readyz$"],
    )
    metrics.info("app_info", "CSV Analyzer version", version=__version__)
    app.extensions["prometheus"] = metrics
    app.extensions["metrics_registry"] = registry
    return metrics
