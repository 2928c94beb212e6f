"""Marshmallow schemas of GET /api/v1/metrics."""

from marshmallow import Schema, validate

from app import api_fields as fields
from app.blueprints.monitoring.service import MAX_MODEL_WINDOW_HOURS, MODEL_WINDOW_HOURS


class MetricsQuerySchema(Schema):
    hours = fields.Integer(load_default=MODEL_WINDOW_HOURS, validate=validate.Range(1, MAX_MODEL_WINDOW_HOURS),
                           metadata={"description": "The window of the per-model prediction figures."})


class JobCountsSchema(Schema):
    queued = fields.Integer()
    running = fields.Integer()
    succeeded = fields.Integer()
    failed = fields.Integer()
    cancelled = fields.Integer()


class LatencyPercentilesSchema(Schema):
    """The median and 95th-percentile answer times (null when nothing was answered)."""

    p50_latency_ms = fields.Float(allow_none=True)
    p95_latency_ms = fields.Float(allow_none=True)


class ModelMetricsSchema(LatencyPercentilesSchema):
    model_id = fields.Integer()
    algorithm = fields.String()
    task = fields.String()
    target = fields.String()
    is_champion = fields.Boolean()
    predictions = fields.Integer(metadata={"description": "Rows predicted in the window."})
    calls = fields.Integer(metadata={"description": "Prediction calls (JSON or batch) in the window."})
    last_prediction_at = fields.DateTime(allow_none=True, metadata={"description": "Minute of the last call (UTC)."})


class HttpMetricsSchema(LatencyPercentilesSchema):
    window_minutes = fields.Integer()
    requests = fields.Integer()
    requests_per_minute = fields.Float()
    errors_4xx = fields.Integer()
    errors_5xx = fields.Integer()
    error_rate = fields.Float(metadata={"description": "Share of 4xx and 5xx answers."})
    client_error_rate = fields.Float()
    server_error_rate = fields.Float()
    p99_latency_ms = fields.Float(allow_none=True)


class MetricsSchema(Schema):
    datasets = fields.Integer()
    jobs = fields.Nested(JobCountsSchema)
    models_window_hours = fields.Integer()
    models = fields.List(fields.Nested(ModelMetricsSchema))
    http = fields.Nested(HttpMetricsSchema, metadata={
        "description": "Admins only: every user's requests over the last hour (metrics and health excluded)."})
