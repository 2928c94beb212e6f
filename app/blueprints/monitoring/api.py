"""GET /api/v1/metrics: the caller's own figures; an admin also gets the global HTTP figures."""

from __future__ import annotations

from flask.views import MethodView

from app.api_auth import api_user
from app.blueprints.monitoring import service
from app.blueprints.monitoring.blueprints import api_bp
from app.blueprints.monitoring.metrics_schemas import MetricsQuerySchema, MetricsSchema


@api_bp.route("/metrics")
class Metrics(MethodView):
    @api_bp.arguments(MetricsQuerySchema, location="query")
    @api_bp.response(200, MetricsSchema)
    def get(self, query):
        """Datasets, jobs by status, predictions and latency per model; admins also get `http`."""
        return service.own_metrics(api_user(), hours=query["hours"])
