"""Training pages: choose what to train, watch the job, read and manage the models, compare runs."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.blueprints.datasets import pages as dataset_pages
from app.blueprints.datasets import service as datasets
from app.blueprints.training import presenters, service
from app.blueprints.training.exports import send_model_zip
from app.blueprints.training.forms import DEFAULT_BUDGET_S, preview_request, training_request
from app.errors import DomainError
from app.extensions import db, limiter
from app.htmx import go, is_htmx, render
from app.jobs import DuplicateJob
from app.ml.training import TrainingError
from app.ratelimits import per_user

bp = Blueprint("training", __name__)
MLFLOW_UI_URL = "http://127.0.0.1:5000"  # `make mlflow-ui`



def _train_context(dataset, form=None, preview=None, error=None, start_error=None) -> dict:
    """The train page's values: the dataset header, its columns, the form state and the preview."""
    form = form or {}
    version = datasets.get_version(dataset)
    task = (preview or {}).get("task") or "classification"
    return {
        "dataset": dataset_pages.header(dataset, version), "columns": [c["name"] for c in version.columns],
        "target": form.get("target", ""), "task_override": form.get("task") or "",
        "excluded_by_user": set(form.getlist("exclude_columns")) if form else set(),
        "budget": form.get("time_budget_s") or DEFAULT_BUDGET_S, "preview": preview, "error": error,
        "start_error": start_error,
        "class_bars": presenters.class_bars((preview or {}).get("class_counts")),
        "choices": presenters.train_choices(
            task, form.get("metric"), form.getlist("models") if form else [],
            version.n_rows - (preview or {}).get("dropped_missing_target", 0)),
    }


def _preview(form, dataset_id: int):
    """The preview of the form's request, or the message saying why it cannot be trained."""
    try:
        return service.preview(current_user, preview_request(form, dataset_id)), None
    except (DomainError, TrainingError) as exc:
        if exc.status == 404:
            raise
        return None, exc.message


@bp.route("/datasets/<int:dataset_id>/train")
@login_required
def train(dataset_id: int):
    """Choose a target; the preview says which task and features a job would use."""
    dataset = datasets.get_dataset(current_user, dataset_id)
    preview, error = _preview(request.args, dataset_id) if request.args.get("target") else (None, None)
    return render("training/train.html", **_train_context(dataset, request.args, preview, error))


@bp.route("/datasets/<int:dataset_id>/train/preview", methods=["POST"])
@login_required
def preview(dataset_id: int):
    """The preview fragment for the chosen target, task and exclusions (the page without htmx)."""
    dataset = datasets.get_dataset(current_user, dataset_id)
    preview, error = _preview(request.form, dataset_id) if request.form.get("target") else (None, None)
    context = _train_context(dataset, request.form, preview, error)
    # oob: the fragment also swaps the task's metric and family choices (the page includes them itself).
    return render("training/train.html", "training/_preview.html", oob=True, **context), 422 if error else 200


def _running_twin(exc: DuplicateJob):
    """The same request is queued or running: a link to it in place (htmx), or that job's page."""
    job_url = url_for("training.job", job_id=exc.job_id)
    if not is_htmx():
        flash(exc.message, "info")
        return redirect(job_url, 303)
    return render("training/_duplicate.html", message=exc.message, job_url=job_url), 409


@bp.route("/datasets/<int:dataset_id>/train", methods=["POST"])
@login_required
@limiter.limit(lambda: current_app.config["RATELIMIT_TRAINING"], key_func=per_user)
def start(dataset_id: int):
    """Start a training job and open its page; a refusal (422) or a running twin (409) shows in place."""
    dataset = datasets.get_dataset(current_user, dataset_id)
    try:
        job = service.start(current_user, training_request(request.form, dataset_id))
    except DuplicateJob as exc:
        db.session.rollback()
        return _running_twin(exc)
    except (DomainError, TrainingError) as exc:
        db.session.rollback()
        if is_htmx() or exc.status not in (409, 422):
            raise  # htmx: the error fragment lands in #start-result (data-error-target)
        return render("training/train.html", **_train_context(dataset, request.form, start_error=exc)), exc.status
    db.session.commit()
    return go(url_for("training.job", job_id=job.id))


@bp.route("/jobs/<int:job_id>")
@login_required
def job(job_id: int):
    """A job's live progress (the fragment polls itself) and, once done, its leaderboard."""
    job = service.get_job(current_user, job_id)
    return render("training/job.html", "training/_job_status.html", job=presenters.job_view(job))


@bp.route("/jobs/<int:job_id>/cancel", methods=["POST"])
@login_required
def cancel(job_id: int):
    """Cancel a queued or running job; the status fragment again (the page without htmx)."""
    job = service.cancel(service.get_job(current_user, job_id))
    db.session.commit()
    if not is_htmx():
        return redirect(url_for("training.job", job_id=job_id), 303)
    return render("training/job.html", "training/_job_status.html", job=presenters.job_view(job))


@bp.route("/jobs/<int:job_id>/retry", methods=["POST"])
@login_required
def retry(job_id: int):
    """Start a failed or cancelled job again as a new job, and open it."""
    new_job = service.retry(service.get_job(current_user, job_id))
    db.session.commit()
    return go(url_for("training.job", job_id=new_job.id))


@bp.route("/models")
@login_required
def models():
    """The user's models, newest first, with their held-out score and the champions."""
    return render("training/models.html", models=presenters.models_list(current_user))


@bp.route("/models/<int:model_id>")
@login_required
def model(model_id: int):
    """A model: held-out metrics against the baseline, verdict, charts, promote, delete, export."""
    model = service.get_model(current_user, model_id)
    return render("training/model.html", model=presenters.model_view(model))


@bp.route("/models/<int:model_id>/promote", methods=["POST"])
@login_required
def promote(model_id: int):
    """Make the model the champion for its dataset and target."""
    model = service.promote(service.get_model(current_user, model_id))
    db.session.commit()
    flash(f"{model.algorithm} is now the champion for {model.target}.", "success")
    return go(url_for("training.model", model_id=model_id))


@bp.route("/models/<int:model_id>/delete", methods=["POST"])
@login_required
def delete_model(model_id: int):
    """Delete the model (another one becomes champion if it was one)."""
    model = service.get_model(current_user, model_id)
    name = model.algorithm
    service.delete_model(model)
    db.session.commit()
    flash(f"The {name} model was deleted.", "success")
    return go(url_for("training.models"))


@bp.route("/models/<int:model_id>/export")
@login_required
def export(model_id: int):
    """The MLflow model directory as a zip (the browser's twin of the API export)."""
    return send_model_zip(service.get_model(current_user, model_id))


@bp.route("/experiments")
@login_required
def experiments():
    """Recent training jobs with their MLflow run ids, and the best models compared per metric."""
    return render("training/experiments.html", mlflow_ui_url=MLFLOW_UI_URL,
                  **presenters.experiments(current_user))
