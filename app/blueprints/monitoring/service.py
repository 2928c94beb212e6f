"""Monitoring figures: HTTP requests over the last hour, jobs, datasets and per-model predictions.

Every figure is the caller's own, except the global HTTP figures an admin asks for. The
statistics tables hold one row per process and minute; these functions sum them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.blueprints.monitoring import request_stats
from app.blueprints.monitoring.latency import Histogram
from app.extensions import db
from app.models import Dataset, Job, TrainedModel, User
from app.models.job import STATUSES
from app.models.request_stats import PredictionStat, RequestStat
from app.models.user import utcnow

HTTP_WINDOW_MINUTES = 60
MODEL_WINDOW_HOURS = 24
MAX_MODEL_WINDOW_HOURS = 24 * 7  # the statistics are kept a week
ROUTES_SHOWN = 10


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _window_start(minutes: int, now: datetime) -> datetime:
    return request_stats.minute_of(now) - timedelta(minutes=minutes - 1)


def _with_unwritten(query, kind: str, wanted) -> list[dict]:
    """The stored rows of `query` with this process's cells merged in (they may not be written yet)."""
    records = {row.id: row._asdict() for row in db.session.execute(query)}
    unwritten = []
    for _, row_id, values in request_stats.stats_buffer().pending(kind):
        if wanted(values):
            if row_id is None:
                unwritten.append(values)
            else:
                records[row_id] = values  # newer totals than its row
    return [*records.values(), *unwritten]


def http_figures(user: User | None, *, minutes: int = HTTP_WINDOW_MINUTES, now: datetime | None = None) -> dict:
    """Requests, error rates and latency percentiles over the last `minutes`, with a series per minute.

    `user` None means every request (an admin's view); otherwise only that user's own.
    """
    now = now or utcnow()
    start = _window_start(minutes, now)
    since = start if user is None else max(start, request_stats.minute_of(user.created_at))
    query = select(RequestStat.id, RequestStat.minute, RequestStat.url_rule, RequestStat.method,
                   RequestStat.status_class, RequestStat.count, RequestStat.sum_ms, RequestStat.max_ms,
                   RequestStat.buckets).where(RequestStat.minute >= since)
    if user is not None:
        # Ids can be reused after an account is erased: nothing from before this account counts.
        query = query.where(RequestStat.user_id == user.id)
    records = _with_unwritten(query, "requests",
                              lambda v: v["minute"] >= since and (user is None or v["user_id"] == user.id))
    total = Histogram()
    per_minute: dict[datetime, dict] = {}
    classes = {4: 0, 5: 0}
    for record in records:
        minute, status_class, count = record["minute"], record["status_class"], record["count"]
        sum_ms, max_ms, buckets = record["sum_ms"], record["max_ms"], record["buckets"]
        total.add(buckets, count, sum_ms, max_ms)
        slot = per_minute.setdefault(minute, {"histogram": Histogram(), "errors_4xx": 0, "errors_5xx": 0})
        slot["histogram"].add(buckets, count, sum_ms, max_ms)
        if status_class in classes:
            classes[status_class] += count
            slot[f"errors_{status_class}xx"] += count
    requests = total.count
    series = []
    for i in range(minutes):
        minute = start + timedelta(minutes=i)
        slot = per_minute.get(minute)
        h = slot["histogram"] if slot else Histogram()
        series.append({"minute": minute.strftime("%H:%M"), "requests": h.count,
                       "errors_4xx": slot["errors_4xx"] if slot else 0,
                       "errors_5xx": slot["errors_5xx"] if slot else 0,
                       "p50_ms": _ms(h.percentile(0.5)), "p95_ms": _ms(h.percentile(0.95)),
                       "p99_ms": _ms(h.percentile(0.99))})
    return {
        "window_minutes": minutes,
        "requests": requests,
        "requests_per_minute": round(requests / minutes, 2),
        "errors_4xx": classes[4],
        "errors_5xx": classes[5],
        "error_rate": round((classes[4] + classes[5]) / requests, 4) if requests else 0.0,
        "client_error_rate": round(classes[4] / requests, 4) if requests else 0.0,
        "server_error_rate": round(classes[5] / requests, 4) if requests else 0.0,
        "p50_latency_ms": _ms(total.percentile(0.5)),
        "p95_latency_ms": _ms(total.percentile(0.95)),
        "p99_latency_ms": _ms(total.percentile(0.99)),
        "series": series,
        "routes": _busiest_routes(records),
    }


def _busiest_routes(records: list[dict], limit: int = ROUTES_SHOWN) -> list[dict]:
    """The routes with the most requests, each with its error rate and latency."""
    by_route: dict[tuple, dict] = {}
    for record in records:
        slot = by_route.setdefault((record["url_rule"], record["method"]), {"histogram": Histogram(), "errors": 0})
        slot["histogram"].add(record["buckets"], record["count"], record["sum_ms"], record["max_ms"])
        if record["status_class"] >= 4:
            slot["errors"] += record["count"]
    busiest = sorted(by_route.items(), key=lambda item: (-item[1]["histogram"].count, item[0]))[:limit]
    return [{"route": rule, "method": method, "requests": slot["histogram"].count,
             "error_rate": round(slot["errors"] / slot["histogram"].count, 4) if slot["histogram"].count else 0.0,
             "p50_ms": _ms(slot["histogram"].percentile(0.5)), "p95_ms": _ms(slot["histogram"].percentile(0.95))}
            for (rule, method), slot in busiest]


def jobs_by_status(user: User) -> dict[str, int]:
    counts = dict(db.session.execute(
        select(Job.status, func.count(Job.id)).where(Job.user_id == user.id).group_by(Job.status)).all())
    return {status: int(counts.get(status, 0)) for status in STATUSES}


def dataset_count(user: User) -> int:
    return int(db.session.scalar(select(func.count(Dataset.id)).where(Dataset.user_id == user.id)) or 0)


def model_figures(user: User, *, hours: int = MODEL_WINDOW_HOURS, now: datetime | None = None) -> list[dict]:
    """Each of the user's models with its predictions (rows and calls) and call latency over `hours`."""
    now = now or utcnow()
    start = request_stats.minute_of(now) - timedelta(hours=hours) + timedelta(minutes=1)
    models = list(db.session.scalars(select(TrainedModel).where(TrainedModel.user_id == user.id)))
    if not models:
        return []
    histograms = {m.id: Histogram() for m in models}
    rows = dict.fromkeys(histograms, 0)
    last: dict[int, datetime] = {}
    born = {m.id: request_stats.minute_of(m.created_at) for m in models}
    query = (select(PredictionStat.id, PredictionStat.model_id, PredictionStat.minute, PredictionStat.calls,
                    PredictionStat.rows, PredictionStat.sum_ms, PredictionStat.max_ms, PredictionStat.buckets)
             .where(PredictionStat.minute >= start, PredictionStat.model_id.in_(list(histograms))))
    for record in _with_unwritten(query, "predictions", lambda v: v["minute"] >= start and v["model_id"] in histograms):
        model_id, minute = record["model_id"], record["minute"]
        if minute < born[model_id]:
            continue  # an erased model's id, reused
        histograms[model_id].add(record["buckets"], record["calls"], record["sum_ms"], record["max_ms"])
        rows[model_id] += record["rows"]
        last[model_id] = max(minute, last.get(model_id, minute))
    figures = [{
        "model_id": m.id, "algorithm": m.algorithm, "task": m.task, "target": m.target,
        "is_champion": m.is_champion, "predictions": rows[m.id], "calls": histograms[m.id].count,
        "p50_latency_ms": _ms(histograms[m.id].percentile(0.5)),
        "p95_latency_ms": _ms(histograms[m.id].percentile(0.95)),
        "last_prediction_at": last.get(m.id),
    } for m in models]
    figures.sort(key=lambda f: (-f["predictions"], -f["model_id"]))
    return figures


def own_metrics(user: User, *, hours: int = MODEL_WINDOW_HOURS) -> dict:
    """The API's answer: the caller's own figures, and the global HTTP figures for an admin."""
    answer = {
        "datasets": dataset_count(user),
        "jobs": jobs_by_status(user),
        "models_window_hours": hours,
        "models": model_figures(user, hours=hours),
    }
    if user.is_admin:
        http = http_figures(None)
        del http["series"], http["routes"]
        answer["http"] = http
    return answer


def page(user: User) -> dict:
    """Everything the Monitoring page shows: global HTTP figures for an admin, the user's own otherwise."""
    models = model_figures(user)
    jobs = jobs_by_status(user)
    http = http_figures(None if user.is_admin else user)
    return {
        "scope": "all users" if user.is_admin else "your requests",
        "http": http,
        "jobs": jobs,
        "jobs_total": sum(jobs.values()),
        "models": models,
        "predictions_total": sum(m["predictions"] for m in models),
        "datasets": dataset_count(user),
        "models_window_hours": MODEL_WINDOW_HOURS,
        "charts": http_charts(http["series"]),
    }


def http_charts(series: list[dict]) -> dict:
    """Chart specs (for data- attributes): traffic and latency per minute."""
    labels = [s["minute"] for s in series]
    return {
        "traffic": {"type": "traffic", "labels": labels, "series": [
            {"label": "requests", "values": [s["requests"] for s in series]},
            {"label": "4xx", "values": [s["errors_4xx"] for s in series]},
            {"label": "5xx", "values": [s["errors_5xx"] for s in series]}]},
        "latency": {"type": "latency", "labels": labels, "unit": "ms", "series": [
            {"label": name, "values": [s[f"{name}_ms"] for s in series]} for name in ("p50", "p95", "p99")]},
    }
