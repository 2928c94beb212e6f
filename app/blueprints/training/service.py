"""Training use cases: preview, start, read and manage jobs and the models they keep."""

from __future__ import annotations

import pandas as pd
from flask import current_app
from sqlalchemy import select, update

from app import jobs
from app.blueprints.datasets import service as datasets
from app.errors import Conflict, NotFound
from app.extensions import db
from app.ml.explore import read_kinds
from app.ml.training import SearchRequest, preview_training
from app.models import Dataset, Job, TrainedModel, User
from app.telemetry import forget_model

KIND = "training"
REQUEST_FIELDS = ("dataset_id", "version", "target", "task", "time_budget_s", "max_candidates",
                  "metric", "exclude_columns", "models", "seed")


def load_frame(dataset: Dataset, version: int | None) -> tuple[pd.DataFrame, dict, int]:
    """The version's rows as a frame, the column kinds, and the version number."""
    row = datasets.get_version(dataset, version)
    path = datasets.version_path(row)
    return pd.read_parquet(path), read_kinds(path), row.version


def preview(user: User, body: dict) -> dict:
    """What the request would train, or a 422 naming why it cannot be trained."""
    dataset = datasets.get_dataset(user, body["dataset_id"])
    frame, kinds, _ = load_frame(dataset, body.get("version"))
    return preview_training(frame, kinds, body["target"], body.get("task"), body.get("exclude_columns"))


def canonical_request(body: dict, version: int) -> dict:
    request = {key: body.get(key) for key in REQUEST_FIELDS}
    request["version"] = version
    request["time_budget_s"] = body.get("time_budget_s") or 60
    request["seed"] = body.get("seed") or 0
    request["exclude_columns"] = sorted(body.get("exclude_columns") or [])
    request["models"] = sorted(body.get("models") or []) or None
    return request


def start(user: User, body: dict) -> Job:
    """Check the request now (422 before any job), then queue the job (409 if the same one runs)."""
    dataset = datasets.get_dataset(user, body["dataset_id"])
    frame, kinds, version = load_frame(dataset, body.get("version"))
    request = canonical_request(body, version)
    preview = preview_training(frame, kinds, request["target"], request["task"],
                               request["exclude_columns"])
    search_request(request).checked(preview["task"],
                                    len(frame) - preview["dropped_missing_target"])
    datasets.get_version(dataset, version).pinned = True  # undo keeps a version a model uses
    db.session.flush()
    return jobs.enqueue(user, KIND, request, time_budget_s=request["time_budget_s"])


def search_request(request: dict, **overrides) -> SearchRequest:
    """The engine's request for a job's stored request (`overrides` win, e.g. the budget left)."""
    fields = {
        "target": request["target"], "task": request.get("task"), "metric": request.get("metric"),
        "time_budget_s": request["time_budget_s"], "max_candidates": request.get("max_candidates"),
        "families": request.get("models"), "seed": request.get("seed") or 0,
        "exclude_columns": request.get("exclude_columns") or None,
    }
    return SearchRequest(**{**fields, **overrides})


def list_jobs(user: User):
    return select(Job).where(Job.user_id == user.id, Job.kind == KIND).order_by(Job.id.desc())


def get_job(user: User, job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or job.user_id != user.id or job.kind != KIND:
        raise NotFound("No such training job.")
    return jobs.refresh(job)


def list_models(user: User):
    return select(TrainedModel).where(TrainedModel.user_id == user.id).order_by(TrainedModel.id.desc())


def get_model(user: User, model_id: int) -> TrainedModel:
    model = db.session.get(TrainedModel, model_id)
    if model is None or model.user_id != user.id:
        raise NotFound("No such model.")
    return model


def models_of_job(job: Job) -> list[TrainedModel]:
    return list(db.session.scalars(select(TrainedModel).where(TrainedModel.job_id == job.id)
                                   .order_by(TrainedModel.id)))


def make_champion(model: TrainedModel) -> TrainedModel:
    """Mark `model` the champion for its dataset and target (one champion per pair)."""
    db.session.execute(update(TrainedModel).where(
        TrainedModel.user_id == model.user_id, TrainedModel.dataset_id == model.dataset_id,
        TrainedModel.target == model.target, TrainedModel.id != model.id).values(is_champion=False))
    model.is_champion = True
    db.session.flush()
    return model


def promote(model: TrainedModel) -> TrainedModel:
    """Make `model` the champion, here and (when it is registered) in MLflow's registry."""
    make_champion(model)
    if model.registered_name and model.registered_version:
        from app.blueprints.training.tracking import make_tracker

        make_tracker().set_champion(model.registered_name, model.registered_version)
    db.session.flush()
    return model


def delete_model(model: TrainedModel) -> None:
    if model.is_champion:
        others = [m for m in db.session.scalars(select(TrainedModel).where(
            TrainedModel.user_id == model.user_id, TrainedModel.dataset_id == model.dataset_id,
            TrainedModel.target == model.target, TrainedModel.id != model.id))]
        if others:
            best = max(others, key=lambda m: m.test_score if m.test_score is not None else float("-inf"))
            best.is_champion = True
    db.session.delete(model)
    db.session.flush()
    cache = current_app.extensions.get("model_cache")
    if cache is not None:
        cache.evict(model.id)
    forget_model(model.id)  # its prediction, latency, score and drift series leave /metrics


def cancel(job: Job) -> Job:
    return jobs.cancel(job)


def retry(job: Job) -> Job:
    if job.status not in ("failed", "cancelled"):
        raise Conflict("Only a failed or cancelled job can be retried.")
    return jobs.retry(job)


def job_resource(job: Job) -> dict:
    """The Job resource of API.md."""
    request = job.request or {}
    result = job.result or {}
    return {
        "id": job.id, "status": job.status, "task": result.get("task") or request.get("task"),
        "target": request.get("target"), "dataset_id": request.get("dataset_id"),
        "version": request.get("version"), "metric": result.get("metric") or request.get("metric"),
        "time_budget_s": request.get("time_budget_s"), "seed": request.get("seed"),
        "max_candidates": request.get("max_candidates"), "models": request.get("models"),
        "exclude_columns": request.get("exclude_columns"),
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
        "progress": job.progress or {}, "leaderboard": result.get("leaderboard", []),
        "best_model_id": result.get("best_model_id"), "mlflow_run_id": result.get("mlflow_run_id"),
        "warnings": result.get("warnings", []), "reason": result.get("reason"),
        "error": job.error,
    }
