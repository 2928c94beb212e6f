"""Dataset use cases: the database rows and files around the pure engine in app/ml.

Views and the API call these; they flush, the request commits. Every file is written
first and recorded second, and removed again if recording fails, so no row ever points
at a missing file and no failure leaves a partial version behind.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from app import storage
from app.errors import Conflict, DomainError, NotFound
from app.extensions import db
from app.ml.explore import query_rows
from app.ml.ingest import IngestResult, ingest_file
from app.ml.profile import profile_dataset
from app.models import Dataset, DatasetVersion, User
from app.telemetry import app_metrics

DATASETS = "datasets"
MAX_NAME = 200


def _max_bytes() -> int:
    return current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024


def clean_name(name: str | None, fallback: str) -> str:
    """A display label: control characters removed, trimmed, never empty."""
    text = "".join(ch for ch in (name or "") if ch.isprintable()).strip()
    return (text or fallback)[:MAX_NAME]


def label_from_filename(filename: str | None) -> str:
    base = os.path.basename((filename or "").replace("\\", "/"))
    for ending in (".csv.gz", ".tsv.gz", ".txt.gz", ".csv", ".tsv", ".txt", ".gz", ".zip"):
        if base.lower().endswith(ending):
            base = base[: -len(ending)]
            break
    return clean_name(base, "Untitled dataset")


# --- reading --------------------------------------------------------------------

def list_datasets(user: User):
    return select(Dataset).where(Dataset.user_id == user.id).order_by(Dataset.id.desc())


def get_dataset(user: User, dataset_id: int) -> Dataset:
    """The user's dataset; another user's or a missing one is the same 404."""
    dataset = db.session.get(Dataset, dataset_id)
    if dataset is None or dataset.user_id != user.id:
        raise NotFound("No such dataset.")
    return dataset


def get_version(dataset: Dataset, version: int | None = None) -> DatasetVersion:
    number = dataset.current_version if version is None else version
    row = db.session.scalar(select(DatasetVersion).where(
        DatasetVersion.dataset_id == dataset.id, DatasetVersion.version == number))
    if row is None:
        raise NotFound(f"Dataset {dataset.id} has no version {number}.")
    return row


def version_path(version: DatasetVersion) -> Path:
    return storage.absolute(version.path)


def dataset_summary(dataset: Dataset, version: DatasetVersion | None = None) -> dict:
    """The Dataset resource of API.md."""
    version = version or get_version(dataset)
    return {
        "id": dataset.id, "name": dataset.name, "version": version.version,
        "n_rows": version.n_rows, "n_cols": version.n_cols, "size_bytes": version.size_bytes,
        "created_at": dataset.created_at, "updated_at": dataset.updated_at,
        "source_filename": dataset.source_filename,
        "dialect": version.dialect, "columns": version.columns, "warnings": version.warnings,
        "repairs": version.repairs,
    }


def rows(dataset: Dataset, version: int | None = None, **query) -> dict:
    return query_rows(version_path(get_version(dataset, version)), **query)


def profile(dataset: Dataset, version: int | None = None) -> dict:
    """The profile of a version, computed once and cached next to its file."""
    row = get_version(dataset, version)
    path = version_path(row)
    cache = path.with_suffix(".profile.json")
    if cache.exists():
        return json.loads(cache.read_text())
    result = profile_dataset(path)
    _write_json(cache, result)
    return result


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    try:
        with open(tmp, "w") as fh:
            json.dump(data, fh, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        storage.remove_file(tmp)  # a full disk leaves no half-written file behind
        raise


# --- creating versions --------------------------------------------------------------

def _ingest_into(folder: Path, source: Path, version: int, overrides: dict | None,
                 profile: bool = False) -> tuple[Path, IngestResult]:
    """Ingest into v<version>.parquet; with `profile`, its profile cache is written too."""
    dest = folder / f"v{version}.parquet"
    result = ingest_file(source, dest, overrides=overrides or None, max_bytes=_max_bytes(),
                         profile=profile)
    if result.profile is not None:
        _write_json(dest.with_suffix(".profile.json"), result.profile)
    return dest, result


def _version_row(dataset: Dataset, number: int, path: Path, result: IngestResult | dict,
                 operation: dict, inherited: DatasetVersion | None = None) -> DatasetVersion:
    info = result.to_dict() if isinstance(result, IngestResult) else result
    row = DatasetVersion(
        dataset=dataset, version=number, path=storage.relative(path),
        n_rows=info["n_rows"], n_cols=info["n_cols"], size_bytes=path.stat().st_size,
        dialect=info.get("dialect") or (inherited.dialect if inherited else {}),
        columns=info["columns"],
        warnings=info.get("warnings", inherited.warnings if inherited else []),
        repairs=info.get("repairs") or (inherited.repairs if inherited else {}),
        operation=operation,
    )
    db.session.add(row)
    return row


def create_dataset(user: User, upload: Path, filename: str | None, name: str | None = None,
                   overrides: dict | None = None) -> Dataset:
    """Store an uploaded file as a new dataset at version 1 (the upload is moved, not copied)."""
    from app.blueprints.admin.usage import check_quota

    check_quota(user, Path(upload).stat().st_size)  # 413 over USER_QUOTA_MB, before anything is stored
    folder = storage.new_folder(DATASETS)
    started = time.perf_counter()
    try:
        source = folder / "source.upload"
        os.replace(upload, source)
        # profiled during the ingest (from the table in memory): the profile page opens at once
        dest, result = _ingest_into(folder, source, 1, overrides, profile=True)
        dataset = Dataset(user_id=user.id, name=clean_name(name, label_from_filename(filename)),
                          source_filename=clean_name(filename, "")[:300], source_path=storage.relative(source),
                          source_bytes=source.stat().st_size, current_version=1)
        db.session.add(dataset)
        _version_row(dataset, 1, dest, result, {"op": "upload", "params": overrides or {}})
        db.session.flush()
    except BaseException:
        db.session.rollback()
        storage.remove_tree(storage.relative(folder))
        raise
    metrics = app_metrics()
    metrics.uploads.inc()
    metrics.upload_bytes.observe(dataset.source_bytes)
    metrics.ingest_seconds.observe(time.perf_counter() - started)
    return dataset


def _new_version_number(dataset: Dataset) -> int:
    highest = db.session.scalar(select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == dataset.id))
    return (highest or 0) + 1


def reparse(dataset: Dataset, overrides: dict) -> Dataset:
    """Read the original file again with these settings, as a new version."""
    folder = storage.absolute(dataset.source_path).parent
    number = _new_version_number(dataset)
    dest = None
    try:
        dest, result = _ingest_into(folder, storage.absolute(dataset.source_path), number, overrides)
        _version_row(dataset, number, dest, result, {"op": "reparse", "params": overrides})
        dataset.current_version = number
        db.session.flush()
    except BaseException:
        db.session.rollback()
        storage.remove_file(dest)
        raise
    return dataset


def rename(dataset: Dataset, name: str) -> Dataset:
    cleaned = clean_name(name, "")
    if not cleaned:
        raise DomainError("Give the dataset a name.", {"json": {"name": ["Must not be empty."]}})
    dataset.name = cleaned
    db.session.flush()
    return dataset


def delete(dataset: Dataset) -> None:
    folder = storage.relative(storage.absolute(dataset.source_path).parent)
    db.session.delete(dataset)
    db.session.flush()
    storage.remove_tree(folder)


def delete_all_for(user: User) -> None:
    """Account erasure: every dataset of the user, files included."""
    for dataset in db.session.scalars(select(Dataset).where(Dataset.user_id == user.id)):
        delete(dataset)


def list_versions(dataset: Dataset) -> list[DatasetVersion]:
    return list(db.session.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
                                   .order_by(DatasetVersion.version.desc())))


def undo(dataset: Dataset) -> Dataset:
    """Go back one version; the undone one is removed unless a model was trained on it."""
    current = get_version(dataset)
    earlier = db.session.scalar(select(DatasetVersion).where(
        DatasetVersion.dataset_id == dataset.id, DatasetVersion.version < current.version)
        .order_by(DatasetVersion.version.desc()).limit(1))
    if earlier is None:
        raise Conflict("This is the first version: there is nothing to undo.")
    dataset.current_version = earlier.version
    path = None if current.pinned else version_path(current)
    if not current.pinned:
        db.session.delete(current)
    db.session.flush()
    if path is not None:
        storage.remove_file(path)
        storage.remove_file(path.with_suffix(".profile.json"))
    return dataset


# --- cleaning -------------------------------------------------------------------------

def apply(dataset: Dataset, op: str, params: dict) -> Dataset:
    """Apply a cleaning operation as a new version; an invalid one writes nothing (422)."""
    from app.ml.operations import apply_operation

    current = get_version(dataset)
    number = _new_version_number(dataset)
    dest = version_path(current).parent / f"v{number}.parquet"
    try:
        info = apply_operation(version_path(current), dest, op, params)
        _version_row(dataset, number, dest, info, {"op": op, "params": params}, inherited=current)
        dataset.current_version = number
        db.session.flush()
    except BaseException:
        storage.remove_file(dest)
        raise
    return dataset


def preview(dataset: Dataset, op: str, params: dict) -> dict:
    from app.ml.operations import preview_operation

    return preview_operation(version_path(get_version(dataset)), op, params)


def operation_history(dataset: Dataset) -> list[dict]:
    """Operations that made the versions, newest first (uploads and re-parses included)."""
    return [{"version": v.version, "op": v.operation.get("op"), "params": v.operation.get("params", {}),
             "created_at": v.created_at} for v in list_versions(dataset)]


def export(dataset: Dataset, version: int | None, fmt: str) -> tuple[Path, int]:
    """Write a download of a version to a temporary file; returns it and the escaped-cell count."""
    from app.ml.export import export_csv, export_parquet

    if fmt not in ("csv", "parquet"):
        raise DomainError("Choose format csv or parquet.", {"query": {"format": ["Must be csv or parquet."]}})
    path = version_path(get_version(dataset, version))
    folder = storage.data_dir() / storage.UPLOAD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"down-{os.urandom(8).hex()}.{fmt}"
    escaped = 0
    try:
        with open(out, "wb") as fh:
            if fmt == "csv":
                escaped = export_csv(path, fh)
            else:
                export_parquet(path, fh)
    except BaseException:
        storage.remove_file(out)  # a full disk leaves no half-written download behind
        raise
    return out, escaped
