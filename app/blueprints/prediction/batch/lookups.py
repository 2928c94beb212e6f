"""A user's batch jobs: one by id (404 for anyone else's), a model's latest, progress, the output file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app import jobs
from app.blueprints.prediction.batch import files
from app.blueprints.prediction.batch.config import KIND
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Job, TrainedModel, User
from app.models.job import SUCCEEDED


def get_job(user: User, job_id: int) -> Job:
    """The user's batch job, brought up to date; another user's or a missing one is 404."""
    job = db.session.get(Job, job_id)
    if job is None or job.user_id != user.id or job.kind != KIND:
        raise NotFound("No such batch job.")
    return jobs.refresh(job)


def jobs_of_model(user: User, model: TrainedModel, limit: int = 5) -> list[Job]:
    """The model's latest batch jobs (for the model page)."""
    candidates = db.session.scalars(
        select(Job)
        .where(Job.user_id == user.id, Job.kind == KIND)
        .order_by(Job.id.desc())
        .limit(200)
    )
    return [j for j in candidates if (j.request or {}).get("model_id") == model.id][:limit]


def progress_of(job: Job) -> dict:
    progress = job.progress or {}
    return {
        "fraction": progress.get("fraction") or 0.0,
        "rows_done": progress.get("rows_done") or 0,
        "message": progress.get("message") or "",
        "elapsed_s": progress.get("elapsed_s"),
    }


def output_path(user: User, job_id: int) -> Path:
    """The finished job's CSV; 409 before it succeeded."""
    job = get_job(user, job_id)
    if job.status != SUCCEEDED:
        raise Conflict(
            f"The batch job is {job.status}; its file is ready once it has succeeded.",
            errors={"status": job.status},
        )
    path = files.absolute(
        (job.result or {}).get("output") or str(Path(job.request["folder"]) / files.OUTPUT)
    )
    if not path.exists():
        raise NotFound("The batch job's file is gone.")
    return path
