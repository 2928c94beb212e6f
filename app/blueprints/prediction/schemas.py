"""Marshmallow schemas of the prediction API."""

from marshmallow import Schema, fields

Any = fields.Raw(allow_none=True)


class PredictRequestSchema(Schema):
    rows = fields.Raw(required=True, metadata={
        "description": "A list of objects {feature: value}; validated against the model's inputs."})
    explain = fields.Boolean(load_default=False)


class ReasonSchema(Schema):
    feature = fields.String()
    value = Any
    effect = fields.Float()
    text = fields.String()


class PredictResponseSchema(Schema):
    model_id = fields.Integer()
    predictions = fields.List(Any)
    probabilities = fields.List(fields.Dict(keys=fields.String(), values=fields.Float()))
    prediction_ids = fields.List(fields.String())
    reasons = fields.List(fields.List(fields.Nested(ReasonSchema)))
    warnings = fields.List(fields.String())
