"""Marshmallow schemas of the training and models API (shapes of API.md)."""

from marshmallow import Schema, validate

from app import api_fields as fields
from app.ml.training import CLASSIFICATION_METRICS, FAMILIES, REGRESSION_METRICS

TASKS = ["classification", "regression"]
ALL_METRICS = sorted(set(CLASSIFICATION_METRICS) | set(REGRESSION_METRICS))
ALL_FAMILIES = sorted({name for names in FAMILIES.values() for name in names})
Any = fields.Raw(allow_none=True)


class PreviewRequestSchema(Schema):
    dataset_id = fields.Integer(required=True, validate=validate.Range(min=1))
    version = fields.Integer(validate=validate.Range(min=1), allow_none=True)
    target = fields.String(required=True, validate=validate.Length(min=1, max=300))
    task = fields.String(validate=validate.OneOf(TASKS), allow_none=True)
    exclude_columns = fields.List(fields.String(validate=validate.Length(max=300)),
                                  validate=validate.Length(max=10_000), allow_none=True)


class TrainingRequestSchema(PreviewRequestSchema):
    time_budget_s = fields.Integer(load_default=60, validate=validate.Range(min=5, max=3600))
    max_candidates = fields.Integer(validate=validate.Range(min=1, max=500), allow_none=True)
    metric = fields.String(validate=validate.OneOf(ALL_METRICS), allow_none=True)
    models = fields.List(fields.String(validate=validate.OneOf(ALL_FAMILIES)),
                         validate=validate.Length(max=len(ALL_FAMILIES)), allow_none=True)
    seed = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**32 - 1))


class TrainingPreviewSchema(Schema):
    task = fields.String()
    reason = fields.String()
    features = fields.List(fields.Dict())
    excluded = fields.List(fields.Dict())
    class_counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    warnings = fields.List(fields.String())
    dropped_missing_target = fields.Integer()


class ProgressSchema(Schema):
    fraction = fields.Float(allow_none=True)
    candidates_done = fields.Integer(allow_none=True)
    best_score = fields.Float(allow_none=True)
    elapsed_s = fields.Float(allow_none=True)
    remaining_s = fields.Float(allow_none=True)
    message = fields.String(allow_none=True)


class LeaderboardEntrySchema(Schema):
    model_id = fields.Integer(allow_none=True)
    family = fields.String()
    algorithm = fields.String()
    cv_score = fields.Float(allow_none=True)
    test_score = fields.Float(allow_none=True)
    fit_time_s = fields.Float(allow_none=True)
    metrics = fields.Dict(keys=fields.String(), values=Any)


class JobSchema(Schema):
    id = fields.Integer()
    status = fields.String(validate=validate.OneOf(["queued", "running", "succeeded", "failed", "cancelled"]))
    task = fields.String(allow_none=True)
    target = fields.String()
    dataset_id = fields.Integer()
    version = fields.Integer()
    metric = fields.String(allow_none=True)
    time_budget_s = fields.Integer()
    seed = fields.Integer()
    max_candidates = fields.Integer(allow_none=True)
    models = fields.List(fields.String(), allow_none=True)
    exclude_columns = fields.List(fields.String(), allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    progress = fields.Nested(ProgressSchema)
    leaderboard = fields.List(fields.Nested(LeaderboardEntrySchema))
    best_model_id = fields.Integer(allow_none=True)
    mlflow_run_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    warnings = fields.List(fields.String())
    error = fields.String(allow_none=True)


class ModelSchema(Schema):
    id = fields.Integer()
    job_id = fields.Integer(allow_none=True)
    algorithm = fields.String()
    family = fields.String()
    task = fields.String()
    target = fields.String()
    metric = fields.String()
    dataset_id = fields.Integer(allow_none=True)
    version = fields.Integer()
    features = fields.List(fields.Dict())
    classes = fields.List(Any, allow_none=True)
    metrics = fields.Dict(keys=fields.String(), values=Any)
    cv_score = fields.Float(allow_none=True)
    test_score = fields.Float(allow_none=True)
    baseline = fields.Dict(keys=fields.String(), values=Any)
    verdict = fields.String()
    feature_importance = fields.List(fields.Dict())
    charts = fields.Dict()
    mlflow_run_id = fields.String(allow_none=True)
    registered_name = fields.String(allow_none=True)
    registered_version = fields.String(allow_none=True)
    is_champion = fields.Boolean()
    created_at = fields.DateTime()
