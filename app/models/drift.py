"""The cached training profile of a model that drift compares recent inputs with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.user import utcnow


class DriftReference(db.Model):
    """One row per model, computed on the first drift call (bins and category counts, no raw rows)."""

    __tablename__ = "drift_references"

    model_id: Mapped[int] = mapped_column(ForeignKey("trained_models.id", ondelete="CASCADE"), primary_key=True)
    profile: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_psi: Mapped[list | None] = mapped_column(JSON, default=None)  # PSI per feature position, for /metrics
    last_computed_at: Mapped[datetime | None] = mapped_column(default=None)
