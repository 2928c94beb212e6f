"""The Monitoring page: requests over the last hour, jobs, predictions per model, and drift."""

from __future__ import annotations

from flask import current_app, url_for
from flask_login import current_user, login_required

from app.blueprints.auth.operations import add_account_eraser
from app.blueprints.monitoring import request_stats, service
from app.blueprints.monitoring.blueprints import bp
from app.htmx import render

# The drift fragment of a model, when the drift module serves one (first endpoint found wins).
DRIFT_ENDPOINTS = ("monitoring.drift", "monitoring.model_drift", "monitoring.drift_fragment")


@bp.record_once
def _init(state) -> None:
    """Request statistics start with the page that shows them (hooks on the whole app)."""
    request_stats.init_request_stats(state.app)
    add_account_eraser(state.app, request_stats.erase_user)


def drift_url(model_id: int) -> str | None:
    endpoint = next((e for e in DRIFT_ENDPOINTS if e in current_app.view_functions), None)
    return url_for(endpoint, model_id=model_id) if endpoint else None


@bp.route("/monitoring")
@login_required
def index():
    """Request rate, errors and latency over the last hour, job outcomes, predictions per model, drift."""
    figures = service.page(current_user)
    for model in figures["models"]:
        model["drift_url"] = drift_url(model["model_id"])
        model["model_url"] = url_for("training.model", model_id=model["model_id"])
    return render("monitoring/index.html", **figures)


@bp.app_template_filter("monitoring_ms")
def format_ms(value: float | None) -> str:
    """A latency for people: a dash when nothing was measured, seconds from one second up."""
    if value is None:
        return "\u2013"  # an en dash
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
