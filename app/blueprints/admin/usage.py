"""What each user stores (data files and model artifacts) and the per-user quota (USER_QUOTA_MB).

Data bytes come from the database (each upload's size and each version's Parquet size),
so no folder is walked per request; model bytes are the size of each model's artifact
folder in the MLflow store, measured once per process (artifacts never change).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from app import storage
from app.errors import DomainError
from app.extensions import db
from app.models import Dataset, DatasetVersion, TrainedModel, User

MB = 1024 * 1024
_model_bytes: dict[tuple[str, str], int] = {}  # (tracking uri, model uri) -> bytes


def data_bytes(user_ids: list[int] | None = None) -> dict[int, int]:
    """Bytes of every user's uploads and dataset versions."""
    totals: dict[int, int] = defaultdict(int)
    sources = select(Dataset.user_id, func.coalesce(func.sum(Dataset.source_bytes), 0)).group_by(Dataset.user_id)
    versions = (select(Dataset.user_id, func.coalesce(func.sum(DatasetVersion.size_bytes), 0))
                .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id).group_by(Dataset.user_id))
    if user_ids is not None:
        sources = sources.where(Dataset.user_id.in_(user_ids))
        versions = versions.where(Dataset.user_id.in_(user_ids))
    for stmt in (sources, versions):
        for user_id, total in db.session.execute(stmt):
            totals[user_id] += int(total or 0)
    return totals


def model_bytes(user_ids: list[int] | None = None) -> dict[int, int]:
    """Bytes of every user's saved model artifacts."""
    stmt = select(TrainedModel.user_id, TrainedModel.model_uri).where(TrainedModel.model_uri.is_not(None))
    if user_ids is not None:
        stmt = stmt.where(TrainedModel.user_id.in_(user_ids))
    rows = list(db.session.execute(stmt))
    totals: dict[int, int] = defaultdict(int)
    if not rows:
        return totals
    uri = current_app.config["MLFLOW_TRACKING_URI"]
    for user_id, model_uri in rows:
        totals[user_id] += _artifact_bytes(uri, model_uri)
    return totals


def _artifact_bytes(tracking_uri: str, model_uri: str) -> int:
    key = (tracking_uri, model_uri)
    if key not in _model_bytes:
        from app.blueprints.admin.erasure import local_path
        from app.ml.tracking import artifact_location

        size = 0
        with contextlib.suppress(Exception):  # a missing model counts as nothing
            folder = local_path(artifact_location(model_uri, tracking_uri))
            if folder is not None and Path(folder).is_dir():
                size = storage.folder_size(Path(folder))
        _model_bytes[key] = size
    return _model_bytes[key]


def storage_use(user_ids: list[int] | None = None) -> dict[int, int]:
    """Bytes each user stores: data files plus model artifacts."""
    totals: dict[int, int] = defaultdict(int)
    for part in (data_bytes(user_ids), model_bytes(user_ids)):
        for user_id, size in part.items():
            totals[user_id] += size
    return totals


def quota_bytes() -> int | None:
    """The per-user quota in bytes; None when unlimited (USER_QUOTA_MB = 0, the default)."""
    mb = int(current_app.config.get("USER_QUOTA_MB") or 0)
    return mb * MB if mb > 0 else None


def check_quota(user: User, incoming_bytes: int) -> None:
    """413 naming the quota when storing `incoming_bytes` more would take the user over it."""
    quota = quota_bytes()
    if quota is None:
        return
    used = storage_use([user.id]).get(user.id, 0)
    if used + incoming_bytes > quota:
        mb = current_app.config["USER_QUOTA_MB"]
        raise DomainError(
            f"This upload would take you over your storage quota of {mb} MB: you use "
            f"{used / MB:.1f} MB and the file is {incoming_bytes / MB:.1f} MB. "
            "Delete datasets or models to make room.",
            {"files": {"file": [f"Over the storage quota of {mb} MB."]}},
            status=413)
