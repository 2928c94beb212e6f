"""Drift and actuals over the API: GET /models/<id>/drift, POST /models/<id>/actuals."""

from __future__ import annotations

from flask.views import MethodView

from app.api_auth import api_user
from app.blueprints.monitoring import drift_service as service
from app.blueprints.monitoring.blueprints import api_bp
from app.blueprints.monitoring.drift_schemas import (
    ActualsRequestSchema,
    ActualsResponseSchema,
    DriftQuerySchema,
    DriftSchema,
)
from app.extensions import db
from app.telemetry import add_metrics_refresher


@api_bp.record_once
def _init(state) -> None:
    """The PSI gauges come from the database at scrape time, the same in every process."""
    add_metrics_refresher(state.app, service.refresh_gauges)


@api_bp.route("/models/<int:model_id>/drift")
class Drift(MethodView):
    @api_bp.arguments(DriftQuerySchema, location="query")
    @api_bp.response(200, DriftSchema)
    @api_bp.alt_response(409, description="The model's dataset is gone and no training reference was kept.")
    def get(self, query, model_id):
        """Recent prediction inputs against the training data: PSI and a test per feature."""
        answer = service.drift_answer(api_user(), model_id, query["window"])
        db.session.commit()  # the cached training profile and the last figures
        return answer


@api_bp.route("/models/<int:model_id>/actuals")
class Actuals(MethodView):
    @api_bp.arguments(ActualsRequestSchema)
    @api_bp.response(200, ActualsResponseSchema)
    @api_bp.alt_response(413, description="More than 10,000 actuals in one call.")
    def post(self, body, model_id):
        """Record true values against prediction ids; live metrics over every actual so far."""
        answer = service.record_actuals(api_user(), model_id, body["actuals"])
        db.session.commit()
        return answer
