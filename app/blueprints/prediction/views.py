"""Prediction pages: the form generated from a model's inputs, batch scoring, and code examples.

The panel lives on the model page (training/model.html includes prediction/_panel.html, which
asks `prediction_panel(model_id)` for its values). Each POST answers a fragment for htmx and a
full page without it.
"""

from __future__ import annotations

import io

from flask import Blueprint, Response, request, url_for
from flask_login import current_user, login_required

from app.blueprints.datasets.uploads import uploaded_path
from app.blueprints.prediction import presenters, service
from app.blueprints.training import service as training
from app.errors import DomainError
from app.htmx import is_htmx, render
from app.ml.export import write_table_csv
from app.models import TrainedModel

bp = Blueprint("prediction", __name__)


def panel(model: TrainedModel, **state) -> dict:
    """Everything the panel shows; `state` carries submitted values, errors and a result."""
    return {
        "model_id": model.id, "title": f"{model.algorithm} · {model.target}", "task": model.task,
        "ready": bool(model.model_uri and model.features),
        "fields": presenters.form_fields(model, state.get("values"), state.get("errors")),
        "form_errors": state.get("form_errors", []), "result": state.get("result"),
        "batch_error": state.get("batch_error"),
        "code": presenters.code_examples(model) if model.features else None,
        "predict_url": url_for("prediction.predict", model_id=model.id),
        "score_url": url_for("prediction.score", model_id=model.id),
        "model_url": url_for("training.model", model_id=model.id),
    }


@bp.app_template_global("prediction_panel")
def prediction_panel(model_id: int) -> dict:
    """The panel's values for the model page (its template only has the presented model)."""
    return panel(training.get_model(current_user, model_id))


@bp.route("/models/<int:model_id>/predict", methods=["POST"])
@login_required
def predict(model_id: int):
    """Predict the form's row with its reasons; the fields' errors in place when it does not fit."""
    model = training.get_model(current_user, model_id)
    values = presenters.form_values(model, request.form)
    try:
        answer = service.predict_rows(current_user, model_id, [values], explain_rows=True)
    except DomainError as exc:
        if exc.status == 404:
            raise
        errors, other = presenters.field_errors(exc.errors)
        context = panel(model, values=values, errors=errors, form_errors=other or ([] if errors else [exc.message]))
        return render("prediction/predict.html", "prediction/_single.html", panel=context), exc.status
    context = panel(model, values=values, result=presenters.result_view(model, answer))
    return render("prediction/predict.html", "prediction/_single.html", panel=context)


@bp.route("/models/<int:model_id>/score", methods=["POST"])
@login_required
def score(model_id: int):
    """Score an uploaded CSV: the rows with prediction columns as a download (errors in place)."""
    model = training.get_model(current_user, model_id)
    explain_rows = request.form.get("explain", "").lower() in ("1", "true", "yes", "on")
    try:
        table, n_rows = service.score_file(current_user, model_id, uploaded_path(request.files.get("file")),
                                           explain_rows=explain_rows)
    except DomainError as exc:
        if exc.status == 404:
            raise
        details = [m for field in (exc.errors or {}).get("files", {}).values()
                   for m in (field if isinstance(field, list) else [str(field)])]
        error = {"message": exc.message, "details": [d for d in details if d != exc.message]}
        if is_htmx():
            return render("prediction/_batch_result.html", error=error), exc.status
        return render("prediction/predict.html", panel=panel(model, batch_error=error)), exc.status
    buffer = io.BytesIO()
    escaped = write_table_csv(table, buffer)
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="predictions-model-{model_id}.csv"',
        "X-Rows-Scored": str(n_rows), "X-Formula-Cells-Escaped": str(escaped)})
