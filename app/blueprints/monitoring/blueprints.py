"""The two blueprints of the monitoring package, defined once so every module can add routes."""

from __future__ import annotations

from flask import Blueprint

from app.api_auth import api_blueprint

bp = Blueprint("monitoring", __name__)
api_bp = api_blueprint("monitoring_api", __name__, description="Monitoring, drift and actuals")
