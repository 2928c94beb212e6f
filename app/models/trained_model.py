"""Trained models: the kept best model of each family of a training job, stored in MLflow."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.user import utcnow


class TrainedModel(db.Model):
    __tablename__ = "trained_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="SET NULL"), index=True)
    version: Mapped[int]
    family: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(120))
    task: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(300))
    metric: Mapped[str] = mapped_column(String(32))
    features: Mapped[list] = mapped_column(JSON, default=list)
    classes: Mapped[list | None] = mapped_column(JSON, default=None)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    cv_score: Mapped[float | None] = mapped_column(default=None)
    test_score: Mapped[float | None] = mapped_column(default=None)
    baseline: Mapped[dict] = mapped_column(JSON, default=dict)
    verdict: Mapped[str] = mapped_column(String(500), default="")
    feature_importance: Mapped[list] = mapped_column(JSON, default=list)
    charts: Mapped[dict] = mapped_column(JSON, default=dict)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    fit_time_s: Mapped[float | None] = mapped_column(default=None)
    trained_rows: Mapped[int] = mapped_column(default=0)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    model_uri: Mapped[str | None] = mapped_column(String(500), default=None)
    files_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    registered_name: Mapped[str | None] = mapped_column(String(200), default=None)
    registered_version: Mapped[str | None] = mapped_column(String(20), default=None)
    is_champion: Mapped[bool] = mapped_column(default=False)
    background: Mapped[list] = mapped_column(JSON, default=list)  # training rows that explain predictions
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PredictionLog(db.Model):
    """A sampled prediction input with its id, for drift and for live metrics from actuals."""

    __tablename__ = "prediction_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("trained_models.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    inputs: Mapped[dict] = mapped_column(JSON, default=dict)
    prediction: Mapped[dict] = mapped_column(JSON, default=dict)  # {"value": ..., "probabilities": ...}
    actual: Mapped[dict | None] = mapped_column(JSON, default=None)  # {"value": ...}
    actual_at: Mapped[datetime | None] = mapped_column(default=None)
