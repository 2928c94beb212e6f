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


class BatchRequestSchema(Schema):
    dataset_id = fields.Integer(required=True, strict=True)
    version = fields.Integer(load_default=None, allow_none=True, strict=True)
    explain = fields.Boolean(load_default=False)


class BatchProgressSchema(Schema):
    fraction = fields.Float()
    rows_done = fields.Integer()
    message = fields.String()
    elapsed_s = fields.Float(allow_none=True)


class BatchJobSchema(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"enum": ["queued", "running", "succeeded", "failed", "cancelled"]})
    progress = fields.Nested(BatchProgressSchema)
    n_rows = fields.Integer(allow_none=True)
    download_url = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
