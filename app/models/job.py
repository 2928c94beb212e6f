"""Jobs: long work (training, batch scoring) whose row is the one truth about its state.

Every process (web workers, job processes, Celery workers) reads and writes this
row; nothing about a job lives only in memory.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.user import utcnow

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
ACTIVE = (QUEUED, RUNNING)
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
ACTIVE_SQL = "status IN ('queued', 'running')"

INTERRUPTED = "interrupted"  # the error of a job whose process stopped beating

EMPTY_PROGRESS = {
    "fraction": 0.0,
    "candidates_done": 0,
    "best_score": None,
    "elapsed_s": 0.0,
    "remaining_s": None,
    "message": "",
}


def empty_progress() -> dict:
    return dict(EMPTY_PROGRESS)


class Job(db.Model):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_created_at", "status", "created_at"),
        # One active job per request: two identical submissions racing past the
        # duplicate check cannot both be queued.
        Index("ux_jobs_active_request_key", "request_key", unique=True,
              sqlite_where=text(ACTIVE_SQL), postgresql_where=text(ACTIVE_SQL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # "training", "batch_scoring"
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    request: Mapped[dict] = mapped_column(JSON, default=dict)  # what was asked: retry replays it
    request_key: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of kind+user+request
    time_budget_s: Mapped[float | None] = mapped_column(Float, default=None)  # from started_at
    progress: Mapped[dict] = mapped_column(JSON, default=empty_progress)
    result: Mapped[dict | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    deadline_at: Mapped[datetime | None] = mapped_column(default=None)  # asked to stop here
    kill_at: Mapped[datetime | None] = mapped_column(default=None)  # ended here if it did not
    pid: Mapped[int | None] = mapped_column(default=None)
    worker: Mapped[str | None] = mapped_column(String(255), default=None)  # host running it
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    retry_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), default=None
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.status}>"
