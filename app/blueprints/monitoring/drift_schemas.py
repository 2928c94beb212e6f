"""Marshmallow schemas of the drift and actuals endpoints."""

from marshmallow import Schema, fields, validate

from app.blueprints.monitoring.drift_service import DEFAULT_WINDOW, WINDOWS


class DriftQuerySchema(Schema):
    window = fields.String(load_default=DEFAULT_WINDOW, validate=validate.OneOf(list(WINDOWS)),
                           metadata={"description": "1h, 24h, 7d or 30d"})


class FeatureDriftSchema(Schema):
    name = fields.String()
    psi = fields.Float()
    test = fields.String(metadata={"description": "ks (numeric) or chi2 (categorical)"})
    p_value = fields.Float(allow_none=True)
    status = fields.String(metadata={"description": "ok, warning (PSI > 0.1) or drift (PSI > 0.2)"})


class DriftSchema(Schema):
    model_id = fields.Integer()
    window = fields.String()
    n_samples = fields.Integer()
    status = fields.String(metadata={"description": "ok, warning, drift or insufficient_data"})
    features = fields.List(fields.Nested(FeatureDriftSchema))


class ActualSchema(Schema):
    prediction_id = fields.String(required=True)
    value = fields.Raw(required=True, allow_none=True,
                       metadata={"description": "A number (regression) or one of the model's classes"})


class ActualsRequestSchema(Schema):
    actuals = fields.List(fields.Nested(ActualSchema), required=True)


class ActualsResponseSchema(Schema):
    matched = fields.Integer()
    live_metrics = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True),
                               metadata={"description": "The held-out metrics' names over every actual, and n"})
