"""/healthz, /readyz and /api/docs (Swagger UI from our own static files)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, url_for

from app.readiness import check_readiness

bp = Blueprint("core", __name__)


@bp.route("/healthz")
def healthz():
    """200 while the process is up."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    """200 when the database, the data directory and the tracking store are usable, else 503."""
    problems = check_readiness(current_app)
    if problems:
        return jsonify(status="unavailable", problems=problems), 503
    return jsonify(status="ok")


@bp.route("/api/docs")
def api_docs():
    """Swagger UI for the REST API, its files vendored, its setup in an external script."""
    return render_template("core/api_docs.html", spec_url=url_for("api-docs.openapi_json"))
