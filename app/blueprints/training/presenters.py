"""Plain values the training templates show: job status, leaderboard, model metrics and chart specs.

Templates receive these prepared values and never compute them. Charts are specs read by
app/static/js/training.js (and bar charts by charts.js) from data-* attributes: the CSP
forbids inline scripts.
"""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from app.extensions import db
from app.ml.training import CLASSIFICATION_METRICS, DEFAULT_METRIC, FAMILIES, REGRESSION_METRICS
from app.ml.training.families import too_many_rows
from app.models import Dataset, Job, TrainedModel

DASH = "\u2013"
METRIC_LABELS = {
    "accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy", "f1_macro": "F1 (macro)",
    "roc_auc": "ROC AUC", "log_loss": "Log loss", "r2": "R²", "rmse": "RMSE", "mae": "MAE",
}
LOWER_IS_BETTER = {"log_loss", "rmse", "mae"}
TASK_METRICS = {"classification": CLASSIFICATION_METRICS, "regression": REGRESSION_METRICS}
STATUS_LABELS = {"queued": "Waiting to start", "running": "Training", "succeeded": "Finished",
                 "failed": "Failed", "cancelled": "Cancelled"}
MAX_EXPERIMENT_JOBS = 50
MAX_COMPARED_MODELS = 30


def number(value, digits: int = 4) -> str:
    """A score for people: 4 significant decimals, or a dash when there is none."""
    if value is None:
        return DASH
    if isinstance(value, (int, float)) and abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else str(value)


def seconds(value) -> str:
    if value is None:
        return DASH
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def metric_label(name: str | None) -> str:
    return METRIC_LABELS.get(name or "", name or DASH)


def train_choices(task: str, chosen_metric: str | None, chosen_families: list[str],
                  n_rows: int = 0) -> dict:
    """The metric and family choices of a task for the train form, with what the user picked;
    a family not offered for `n_rows` training rows is shown disabled, with its limit."""
    return {
        "metrics": [(m, metric_label(m)) for m in TASK_METRICS[task]],
        "default_metric": metric_label(DEFAULT_METRIC[task]),
        "metric": chosen_metric if chosen_metric in TASK_METRICS[task] else "",
        "families": [(f.name, f.label, f"offered up to {f.max_rows:,} rows"
                      if too_many_rows(f, n_rows) else "") for f in FAMILIES[task].values()],
        "chosen_families": set(chosen_families or []),
    }


def class_bars(class_counts: dict | None) -> list[dict]:
    """Class balance as bars: label, count and a 0-100 width bucket (CSS classes, no inline style)."""
    if not class_counts:
        return []
    total = sum(class_counts.values()) or 1
    top = max(class_counts.values()) or 1
    return [{"label": label, "count": count, "share": f"{100 * count / total:.0f} %",
             "width": round(10 * count / top) * 10}
            for label, count in class_counts.items()]


def _dataset_name(dataset_id: int | None) -> str:
    dataset = db.session.get(Dataset, dataset_id) if dataset_id else None
    return dataset.name if dataset else "(deleted dataset)"


def job_view(job: Job) -> dict:
    """Everything the job status fragment shows, live or final."""
    request = job.request or {}
    result = job.result or {}
    progress = job.progress or {}
    metric = result.get("metric") or request.get("metric")
    fraction = progress.get("fraction") or 0.0
    leaderboard = [{
        "algorithm": e.get("algorithm") or e.get("family"), "family": e.get("family"),
        "cv_score": number(e.get("cv_score")), "test_score": number(e.get("test_score")),
        "fit_time": seconds(e.get("fit_time_s")),
        "url": url_for("training.model", model_id=e["model_id"]) if e.get("model_id") else None,
        "best": e.get("model_id") is not None and e.get("model_id") == result.get("best_model_id"),
    } for e in result.get("leaderboard", [])]
    return {
        "id": job.id, "status": job.status, "status_label": STATUS_LABELS.get(job.status, job.status),
        "active": job.is_active, "retryable": job.status in ("failed", "cancelled"),
        "target": request.get("target"), "dataset_id": request.get("dataset_id"),
        "dataset_name": _dataset_name(request.get("dataset_id")), "version": request.get("version"),
        "task": result.get("task") or request.get("task"), "reason": result.get("reason"),
        "metric": metric_label(metric) if metric else "the default metric", "budget": request.get("time_budget_s"),
        "percent": round(100 * min(max(fraction, 0.0), 1.0)),
        "candidates": progress.get("candidates_done") or 0,
        "best_so_far": number(progress.get("best_score")),
        "time_left": seconds(progress.get("remaining_s")),
        "message": progress.get("message") or "",
        "leaderboard": leaderboard, "warnings": result.get("warnings", []), "error": job.error,
        "best_model_url": url_for("training.model", model_id=result["best_model_id"])
        if result.get("best_model_id") else None,
        "best_test_score": next((e["test_score"] for e in leaderboard if e["best"]), DASH),
        "mlflow_run_id": result.get("mlflow_run_id"), "created_at": job.created_at,
    }


def model_row(model: TrainedModel) -> dict:
    return {
        "id": model.id, "algorithm": model.algorithm, "target": model.target, "task": model.task,
        "dataset_id": model.dataset_id, "dataset_name": _dataset_name(model.dataset_id),
        "version": model.version, "metric": metric_label(model.metric),
        "test_score": number(model.test_score), "cv_score": number(model.cv_score),
        "is_champion": model.is_champion, "created_at": model.created_at,
        "url": url_for("training.model", model_id=model.id),
    }


def models_list(user) -> list[dict]:
    from app.blueprints.training import service

    return [model_row(m) for m in db.session.scalars(service.list_models(user))]


def _metrics_table(model: TrainedModel) -> list[dict]:
    """Held-out metrics beside the naive baseline's, in the task's order."""
    rows = []
    for name in TASK_METRICS.get(model.task, ()):
        if name not in (model.metrics or {}):
            continue
        ours, base = model.metrics.get(name), (model.baseline or {}).get(name)
        better = None
        if isinstance(ours, (int, float)) and isinstance(base, (int, float)):
            better = ours < base if name in LOWER_IS_BETTER else ours > base
        rows.append({"name": metric_label(name), "value": number(ours), "baseline": number(base),
                     "better": better, "main": name == model.metric,
                     "lower_is_better": name in LOWER_IS_BETTER})
    return rows


def confusion_table(chart: dict | None) -> dict | None:
    """Confusion matrix cells with a 0-4 shade bucket by share of the actual class (row)."""
    if not chart or not chart.get("matrix"):
        return None
    rows = []
    for label, counts in zip(chart["labels"], chart["matrix"], strict=False):
        total = sum(counts) or 1
        rows.append({"label": label, "cells": [
            {"count": c, "shade": min(4, int(5 * c / total)), "diagonal": i == len(rows)}
            for i, c in enumerate(counts)]})
    return {"labels": chart["labels"], "rows": rows}


def _importance_chart(model: TrainedModel) -> dict | None:
    items = (model.feature_importance or [])[:20]
    if not items:
        return None
    return {"type": "bars", "label": f"Drop in {metric_label(model.metric)} when shuffled",
            "labels": [i["feature"] for i in items], "values": [round(i["importance"], 5) for i in items]}


def model_view(model: TrainedModel) -> dict:
    """The model page: metrics against the baseline, verdict, chart specs, links."""
    charts = model.charts or {}
    view = model_row(model)
    view.update({
        "job_url": url_for("training.job", job_id=model.job_id) if model.job_id else None,
        "family": model.family, "verdict": model.verdict, "classes": model.classes,
        "features": model.features or [], "metrics": _metrics_table(model),
        "fit_time": seconds(model.fit_time_s), "trained_rows": model.trained_rows,
        "mlflow_run_id": model.mlflow_run_id, "registered_name": model.registered_name,
        "registered_version": model.registered_version, "exportable": bool(model.model_uri),
        "confusion": confusion_table(charts.get("confusion_matrix")),
        "roc": {"type": "roc", "curves": charts["roc_curve"]} if charts.get("roc_curve") else None,
        "predicted_vs_actual": {"type": "scatter", "x": "actual", "y": "predicted", "diagonal": True,
                                "points": charts["predicted_vs_actual"]}
        if charts.get("predicted_vs_actual") else None,
        "residuals": {"type": "scatter", "x": "predicted", "y": "residual", "zero_line": True,
                      "points": charts["residuals"]} if charts.get("residuals") else None,
        "importance": _importance_chart(model),
    })
    return view


def experiments(user) -> dict:
    """Recent training jobs and a chart per metric comparing the best model of each finished job."""
    from app.blueprints.training import service

    jobs = list(db.session.scalars(service.list_jobs(user).limit(MAX_EXPERIMENT_JOBS)))
    best_ids = [j.result["best_model_id"] for j in jobs if j.result and j.result.get("best_model_id")]
    best = {m.id: m for m in db.session.scalars(select(TrainedModel).where(
        TrainedModel.id.in_(best_ids[:MAX_COMPARED_MODELS]), TrainedModel.user_id == user.id))}
    charts: dict[str, dict] = {}
    for job in reversed(jobs):  # oldest first, left to right
        model = best.get((job.result or {}).get("best_model_id"))
        if model is None or model.test_score is None:
            continue
        chart = charts.setdefault(model.metric, {
            "type": "bars", "label": f"Held-out {metric_label(model.metric)}", "labels": [], "values": [],
            "title": metric_label(model.metric)})
        chart["labels"].append(f"#{job.id} {model.target} · {model.algorithm}")
        chart["values"].append(round(model.test_score, 4))
    return {"jobs": [job_view(j) for j in jobs], "charts": list(charts.values())}
