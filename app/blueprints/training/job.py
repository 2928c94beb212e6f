"""The training job: run the AutoML search for a job's request and keep its models.

A plain function of ids (app.jobs calls it in a child process, or a Celery worker), so
every backend runs the same code. Model rows are left pending: the runner commits them
together with the job's success, so a cancelled or failed job leaves no model behind.
"""

from __future__ import annotations

import time

import pandas as pd
from flask import current_app

from app.blueprints.training import service
from app.blueprints.training.tracking import make_tracker
from app.extensions import db
from app.jobs import job_function
from app.ml.tracking import model_digest, registered_model_name
from app.ml.training import SearchResult, run_search
from app.ml.training.request import natural
from app.models import Dataset, Job, TrainedModel
from app.telemetry import app_metrics

MIN_BUDGET_S = 5
BACKGROUND_ROWS = 30
KEEP_RESERVE_S = 3.0


@job_function("training")
def run_training(job_id: int, ctx) -> dict:
    started = time.perf_counter()
    metrics = app_metrics()
    try:
        result = _train(job_id, ctx)
    except BaseException:
        metrics.training_jobs.labels(status="cancelled" if ctx.cancelled else "failed").inc()
        raise
    metrics.training_jobs.labels(status="succeeded").inc()
    metrics.training_seconds.observe(time.perf_counter() - started)
    return result


def _train(job_id: int, ctx) -> dict:
    job = db.session.get(Job, job_id)
    request = job.request
    dataset = db.session.get(Dataset, request["dataset_id"])
    if dataset is None:
        raise LookupError("The dataset was deleted before training started.")
    ctx.report_progress({"fraction": 0.0, "message": "Reading the dataset"})
    frame, kinds, version = service.load_frame(dataset, request["version"])
    db.session.rollback()  # end the read transaction: the heartbeat writes meanwhile
    tracker = make_tracker(current_app.config)
    remaining = ctx.remaining_s()
    remaining = request["time_budget_s"] if remaining is None else remaining
    # Keep a little for the model rows and the commit: the job is ended at budget + 10 % + 5 s.
    budget = max(MIN_BUDGET_S, remaining - min(KEEP_RESERVE_S, 0.05 * request["time_budget_s"]))
    search = service.search_request(
        request, time_budget_s=budget,
        tags={"user": job.user_id, "dataset": dataset.id, "version": version, "job": job.id},
        registered_name=registered_model_name(dataset.id, request["target"]))
    result = run_search(frame, kinds, search, on_progress=ctx.report_progress,
                        should_stop=lambda: ctx.cancelled, tracker=tracker)
    background = background_rows(frame, [f["name"] for f in result.features], search.seed)
    return _keep(job, dataset, version, result, background)


def background_rows(frame, features: list[str], seed: int) -> list[dict]:
    """A small sample of training inputs, JSON-safe, that explains predictions later."""
    sample = frame[features].sample(n=min(BACKGROUND_ROWS, len(frame)), random_state=seed)
    rows = []
    for record in sample.to_dict(orient="records"):
        rows.append({k: (None if pd.isna(v) else
                         v.isoformat() if hasattr(v, "isoformat") else
                         v.item() if hasattr(v, "item") else v) for k, v in record.items()})
    return rows


def _keep(job: Job, dataset: Dataset, version: int, result: SearchResult, background: list[dict]) -> dict:
    """Model rows for every saved family; the best is the champion for its dataset and target."""
    job = db.session.get(Job, job.id)
    rows: dict[str, TrainedModel] = {}
    for family, kept in result.models.items():
        if not kept.model_uri:
            continue  # not saved: the budget ran out (a warning says so)
        rows[family] = TrainedModel(
            user_id=job.user_id, job_id=job.id, dataset_id=dataset.id, version=version, family=family,
            algorithm=kept.algorithm, task=result.task, target=job.request["target"], metric=result.metric,
            features=result.features, classes=result.classes, metrics=kept.test_metrics,
            cv_score=natural(kept.cv_score, result.metric, result.greater_is_better),
            test_score=kept.test_score, baseline=kept.baseline, verdict=kept.verdict[:500],
            feature_importance=kept.feature_importance, charts=kept.charts, params=kept.params,
            fit_time_s=kept.fit_time_s, trained_rows=kept.trained_rows, mlflow_run_id=kept.run_id,
            model_uri=kept.model_uri, background=background,
            files_sha256=model_digest(kept.model_uri, current_app.config["MLFLOW_TRACKING_URI"]))
        db.session.add(rows[family])
    db.session.flush()
    best = rows.get(result.best_family)
    if best is not None:
        best.registered_name = result.registered_name
        best.registered_version = result.registered_version
        service.make_champion(best)  # MLflow's alias was set when the search registered it
    leaderboard = [dict(entry, model_id=rows[entry["family"]].id if entry.get("family") in rows else None)
                   for entry in result.leaderboard]
    return {
        "task": result.task, "reason": result.reason, "metric": result.metric,
        "leaderboard": leaderboard, "best_model_id": best.id if best else None,
        "mlflow_run_id": result.parent_run_id, "warnings": result.warnings,
        "excluded": result.excluded, "n_train": result.n_train, "n_test": result.n_test,
        "dropped_missing_target": result.dropped_missing_target,
        "stopped_by_deadline": result.stopped_by_deadline, "elapsed_s": result.elapsed_s,
        "class_weight": result.class_weight,
    }
