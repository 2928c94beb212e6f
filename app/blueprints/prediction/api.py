"""Prediction API: JSON rows, batch files or stored datasets, and batch jobs."""

from __future__ import annotations

from flask import Response, request, send_file, url_for
from flask.views import MethodView
from marshmallow import ValidationError

from app.api_auth import api_blueprint, api_user
from app.blueprints.datasets.uploads import uploaded_path
from app.blueprints.prediction import batch, service
from app.blueprints.prediction.schemas import (
    BatchJobSchema,
    BatchRequestSchema,
    PredictRequestSchema,
    PredictResponseSchema,
)
from app.errors import DomainError

api_bp = api_blueprint("prediction_api", __name__, description="Predictions")

TRUE_WORDS = ("1", "true", "yes", "on")


def csv_doc(description: str) -> dict:
    return {"200": {"description": description, "content": {"text/csv": {"schema": {"type": "string"}}}}}


@api_bp.route("/models/<int:model_id>/predict")
class Predict(MethodView):
    @api_bp.arguments(PredictRequestSchema)
    @api_bp.response(200, PredictResponseSchema)
    @api_bp.alt_response(413, description="More than PREDICT_MAX_ROWS rows.")
    def post(self, body, model_id):
        """Predict rows; `explain: true` adds the reasons of each prediction."""
        return service.predict_rows(api_user(), model_id, body["rows"], explain_rows=body["explain"])


def batch_job_resource(job) -> dict:
    """The batch job resource of API.md."""
    return {"id": job.id, "status": job.status, "progress": batch.progress_of(job),
            "n_rows": (job.request or {}).get("n_rows"), "error": job.error,
            "download_url": url_for("prediction_api.BatchJobDownload", job_id=job.id)
            if job.status == "succeeded" else None}


def csv_response(answer: batch.SyncAnswer, model_id: int) -> Response:
    return Response(answer.csv, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="predictions-model-{model_id}.csv"',
        "X-Rows-Scored": str(answer.n_rows), "X-Formula-Cells-Escaped": str(answer.escaped)})


def start_batch(user, model_id: int):
    """Score the request's file (multipart `file`) or stored dataset (JSON): a SyncAnswer or a Job."""
    if request.is_json:
        try:
            body = BatchRequestSchema().load(request.get_json(silent=True) or {})
        except ValidationError as exc:
            raise DomainError("The request is not valid.", {"json": exc.messages}) from exc
        return batch.score_dataset(user, model_id, body["dataset_id"], body.get("version"),
                                   explain_rows=body["explain"])
    upload = request.files.get("file")
    if upload is None:
        raise DomainError("Send the file to score, or JSON {dataset_id, version?}.",
                          {"files": {"file": ["Missing data for required field."]}})
    explain_rows = request.form.get("explain", "").strip().lower() in TRUE_WORDS
    return batch.score_upload(user, model_id, uploaded_path(upload), explain_rows=explain_rows)


@api_bp.route("/models/<int:model_id>/batch-predictions")
class BatchPredictions(MethodView):
    @api_bp.doc(requestBody={"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary"}, "explain": {"type": "boolean"}}}},
        "application/json": {"schema": BatchRequestSchema}}})
    @api_bp.doc(responses=csv_doc("Up to BATCH_SYNC_ROWS rows: the rows with prediction, probability_<class> "
                                  "and (with explain) reasons columns, formula-safe."))
    @api_bp.response(200, content_type="text/csv")
    @api_bp.alt_response(202, schema=BatchJobSchema, description="Above BATCH_SYNC_ROWS rows: a batch job.")
    @api_bp.alt_response(422, description="Missing feature columns (listed), a wrong value, or no rows.")
    def post(self, model_id):
        """Score a CSV file or a stored dataset version: a CSV now, or a batch job for large inputs."""
        answer = start_batch(api_user(), model_id)
        if isinstance(answer, batch.SyncAnswer):
            return csv_response(answer, model_id)
        return BatchJobSchema().dump(batch_job_resource(answer)), 202, {
            "Location": url_for("prediction_api.BatchJob", job_id=answer.id)}


@api_bp.route("/batch-jobs/<int:job_id>")
class BatchJob(MethodView):
    @api_bp.response(200, BatchJobSchema)
    def get(self, job_id):
        """A batch job with its progress and, once succeeded, its download URL."""
        return batch_job_resource(batch.get_job(api_user(), job_id))


@api_bp.route("/batch-jobs/<int:job_id>/download")
class BatchJobDownload(MethodView):
    @api_bp.doc(responses=csv_doc("The scored rows, formula-safe."))
    @api_bp.response(200, content_type="text/csv")
    @api_bp.alt_response(409, description="The job has not succeeded (yet).")
    def get(self, job_id):
        """The scored rows as CSV, once the job has succeeded."""
        return send_file(batch.output_path(api_user(), job_id), mimetype="text/csv", as_attachment=True,
                         download_name=f"predictions-batch-{job_id}.csv")
