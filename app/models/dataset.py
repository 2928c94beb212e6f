"""Datasets and their immutable versions (one Parquet file each, named by id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.user import utcnow


class Dataset(db.Model):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source_filename: Mapped[str] = mapped_column(String(300), default="")
    source_path: Mapped[str] = mapped_column(String(500))  # relative to DATA_DIR; the original upload
    source_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    current_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[DatasetVersion]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", passive_deletes=True,
        order_by="DatasetVersion.version",
    )


class DatasetVersion(db.Model):
    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    path: Mapped[str] = mapped_column(String(500))  # relative to DATA_DIR
    n_rows: Mapped[int] = mapped_column(BigInteger)
    n_cols: Mapped[int]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    dialect: Mapped[dict] = mapped_column(JSON, default=dict)
    columns: Mapped[list] = mapped_column(JSON, default=list)
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    repairs: Mapped[dict] = mapped_column(JSON, default=dict)
    operation: Mapped[dict] = mapped_column(JSON, default=dict)  # {"op": ..., "params": {...}}
    pinned: Mapped[bool] = mapped_column(default=False)  # a model was trained on it: undo keeps it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="versions")
