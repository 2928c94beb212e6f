"""Prediction API: JSON rows and batch files."""

from __future__ import annotations

import io

from flask import Response, request
from flask.views import MethodView

from app.api_auth import api_blueprint, api_user
from app.blueprints.datasets.uploads import uploaded_path
from app.blueprints.prediction import service
from app.blueprints.prediction.schemas import PredictRequestSchema, PredictResponseSchema
from app.errors import DomainError
from app.ml.export import write_table_csv

api_bp = api_blueprint("prediction_api", __name__, description="Predictions")


@api_bp.route("/models/<int:model_id>/predict")
class Predict(MethodView):
    @api_bp.arguments(PredictRequestSchema)
    @api_bp.response(200, PredictResponseSchema)
    @api_bp.alt_response(413, description="More than PREDICT_MAX_ROWS rows.")
    def post(self, body, model_id):
        """Predict rows; `explain: true` adds the reasons of each prediction."""
        return service.predict_rows(api_user(), model_id, body["rows"], explain_rows=body["explain"])


@api_bp.route("/models/<int:model_id>/batch-predictions")
class BatchPredictions(MethodView):
    @api_bp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": {"file": {"type": "string", "format": "binary"},
                                         "explain": {"type": "boolean"}}}}}})
    @api_bp.response(200, content_type="text/csv")
    def post(self, model_id):
        """Score a CSV file: its rows with prediction (and probability_<class>) columns."""
        upload = request.files.get("file")
        if upload is None:
            raise DomainError("Send the file to score.", {"files": {"file": ["Missing data for required field."]}})
        explain_rows = request.form.get("explain", "").lower() in ("1", "true", "yes", "on")
        table, _ = service.score_file(api_user(), model_id, uploaded_path(upload), explain_rows=explain_rows)
        buffer = io.BytesIO()
        escaped = write_table_csv(table, buffer)
        return Response(buffer.getvalue(), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="predictions-model-{model_id}.csv"',
            "X-Formula-Cells-Escaped": str(escaped)})
