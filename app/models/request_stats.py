"""Request and prediction statistics per minute, written by every process from its own memory.

Each web process aggregates its requests per (minute, user, URL rule, method, status class)
with a fixed latency histogram and writes its own rows every few seconds (never one write
per request); readers sum the rows of every process. No foreign keys: a row written after
its user or model was deleted must not fail the batch (account erasure clears user ids).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class RequestStat(db.Model):
    __tablename__ = "request_stats"
    __table_args__ = (Index("ix_request_stats_minute_user", "minute", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    minute: Mapped[datetime]  # UTC, naive, at the start of the minute
    user_id: Mapped[int | None] = mapped_column(default=None)  # None: anonymous
    url_rule: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    status_class: Mapped[int]  # 2 for 2xx ... 5 for 5xx
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    sum_ms: Mapped[float] = mapped_column(Float, default=0.0)
    max_ms: Mapped[float] = mapped_column(Float, default=0.0)
    buckets: Mapped[list] = mapped_column(JSON, default=list)  # counts per LATENCY_BOUNDS_MS bucket


class PredictionStat(db.Model):
    __tablename__ = "prediction_stats"
    __table_args__ = (Index("ix_prediction_stats_user_minute", "user_id", "minute"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    minute: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(default=None)  # the model's owner
    model_id: Mapped[int] = mapped_column(index=True)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    sum_ms: Mapped[float] = mapped_column(Float, default=0.0)
    max_ms: Mapped[float] = mapped_column(Float, default=0.0)
    buckets: Mapped[list] = mapped_column(JSON, default=list)
