"""Prediction pages: the form generated from a model's inputs, batch scoring, and code examples.

The panel lives on the model page (training/model.html includes prediction/_panel.html, which
asks `prediction_panel(model_id)` for its values). Each POST answers a fragment for htmx and a
full page without it. A large batch runs as a job whose status polls itself (htmx) and is
listed on the model page, so a reload finds it again.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request, send_file, url_for
from flask_login import current_user, login_required

from app.blueprints.auth.operations import add_account_eraser
from app.blueprints.datasets import service as datasets
from app.blueprints.datasets.uploads import uploaded_path
from app.blueprints.prediction import batch, presenters, service
from app.blueprints.prediction.api import csv_response
from app.blueprints.training import service as training
from app.errors import DomainError
from app.extensions import db
from app.htmx import is_htmx, render
from app.models import TrainedModel

bp = Blueprint("prediction", __name__)
bp.record_once(lambda state: add_account_eraser(state.app, batch.delete_all_for))

TRUE_WORDS = ("1", "true", "yes", "on")


def panel(model: TrainedModel, **state) -> dict:
    """Everything the panel shows; `state` carries submitted values, errors and a result."""
    return {
        "model_id": model.id, "title": f"{model.algorithm} · {model.target}", "task": model.task,
        "ready": bool(model.model_uri and model.features),
        "fields": presenters.form_fields(model, state.get("values"), state.get("errors")),
        "form_errors": state.get("form_errors", []), "result": state.get("result"),
        "batch_error": state.get("batch_error"),
        "datasets": [{"id": d.id, "name": d.name} for d in db.session.scalars(datasets.list_datasets(current_user))],
        "batch_jobs": [presenters.batch_job_view(j) for j in batch.jobs_of_model(current_user, model)],
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


def _start_scoring(model_id: int):
    """The form's stored dataset if one is chosen, else its file: a SyncAnswer or a Job."""
    explain_rows = request.form.get("explain", "").strip().lower() in TRUE_WORDS
    dataset_id = request.form.get("dataset_id", "").strip()
    if dataset_id:
        if not dataset_id.isdigit():
            raise DomainError("Choose one of your datasets.", {"form": {"dataset_id": ["Not a valid dataset."]}})
        return batch.score_dataset(current_user, model_id, int(dataset_id), explain_rows=explain_rows)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise DomainError("Choose a file to score, or one of your datasets.",
                          {"files": {"file": ["Missing data for required field."]}})
    return batch.score_upload(current_user, model_id, uploaded_path(upload), explain_rows=explain_rows)


@bp.route("/models/<int:model_id>/score", methods=["POST"])
@login_required
def score(model_id: int):
    """Score a file or a stored dataset: a download when small, a batch job with progress when large."""
    model = training.get_model(current_user, model_id)
    try:
        answer = _start_scoring(model_id)
    except DomainError as exc:
        if exc.status == 404:
            raise
        error = {"message": exc.message, "details": presenters.batch_error_details(exc)}
        if is_htmx():
            return render("prediction/_batch_result.html", error=error), exc.status
        return render("prediction/predict.html", panel=panel(model, batch_error=error)), exc.status
    if isinstance(answer, batch.SyncAnswer):
        return csv_response(answer, model_id)
    if is_htmx():
        return render("prediction/_batch_job.html", job=presenters.batch_job_view(answer)), 202
    return redirect(url_for("prediction.batch_job", job_id=answer.id), 303)


@bp.route("/batch-jobs/<int:job_id>")
@login_required
def batch_job(job_id: int):
    """A batch job's progress (htmx polls this fragment while the job runs), then its download link."""
    job = presenters.batch_job_view(batch.get_job(current_user, job_id))
    return render("prediction/batch_job.html", "prediction/_batch_job.html", job=job)


@bp.route("/batch-jobs/<int:job_id>/download")
@login_required
def batch_download(job_id: int):
    """The scored rows of a finished batch job (409 before)."""
    return send_file(batch.output_path(current_user, job_id), mimetype="text/csv", as_attachment=True,
                     download_name=f"predictions-batch-{job_id}.csv")
