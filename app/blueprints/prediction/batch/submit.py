"""The request: check the model and the input, answer with the CSV now, or store the input and queue a job."""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from flask import current_app

from app import jobs
from app.blueprints.datasets import service as datasets
from app.blueprints.prediction import service
from app.blueprints.prediction.batch import files
from app.blueprints.prediction.batch.config import KIND, chunk_rows, sync_rows
from app.blueprints.prediction.batch.scoring import write_scored
from app.blueprints.training import service as training
from app.errors import DomainError
from app.ml.serving import InvalidInput
from app.models import Job, TrainedModel, User

log = logging.getLogger(__name__)


@dataclass
class SyncAnswer:
    csv: bytes
    n_rows: int
    escaped: int
    warnings: list[str]


def _missing_columns(model: TrainedModel, names: list[str], where: tuple[str, str]) -> None:
    missing = [f["name"] for f in model.features if f["name"] not in names]
    if missing:
        listed = ", ".join(missing)
        source = "file" if where[0] == "files" else "dataset"
        raise DomainError(
            f"The {source} lacks the model's input columns: {listed}.",
            {where[0]: {where[1]: [f"Missing columns: {listed}."]}, "missing_columns": missing},
        )


def _checked_model(user: User, model_id: int) -> TrainedModel:
    model = training.get_model(user, model_id)
    if not model.model_uri or not model.features:
        raise DomainError("This model has no saved files.", status=404)
    return model


def _score_now(
    model: TrainedModel, batches, input_names: list[str], explain_rows: bool, where: tuple[str, str]
) -> SyncAnswer:
    started = time.perf_counter()
    pipeline = service.loaded(model)
    buffer = io.BytesIO()
    try:
        n_rows, escaped, warnings = write_scored(
            model, pipeline, batches, buffer, input_names=input_names, explain_rows=explain_rows
        )
    except InvalidInput as exc:
        raise DomainError(
            exc.message, {where[0]: {where[1]: exc.errors}}, status=exc.status
        ) from exc
    service._observe(model.id, n_rows, time.perf_counter() - started)
    return SyncAnswer(buffer.getvalue(), n_rows, escaped, warnings)


def _no_rows(where: tuple[str, str]) -> DomainError:
    return DomainError("There are no rows to score.", {where[0]: {where[1]: ["No data rows."]}})


def score_upload(
    user: User, model_id: int, path: Path, *, explain_rows: bool = False
) -> SyncAnswer | Job:
    """Score an uploaded CSV (any dialect the dataset upload accepts): the CSV now, or a queued job."""
    from app.ml.ingest import read_table

    where = ("files", "file")
    started = time.perf_counter()
    model = _checked_model(user, model_id)
    table, _ = read_table(
        path, max_bytes=current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024, count_unique=False
    )  # typed columns only: no profile, no distinct counts
    _missing_columns(model, table.column_names, where)
    if table.num_rows == 0:
        raise _no_rows(where)
    if table.num_rows <= sync_rows():
        return _score_now(
            model,
            table.to_batches(max_chunksize=chunk_rows()),
            table.column_names,
            explain_rows,
            where,
        )
    folder = files.new_folder()
    try:
        read_s = time.perf_counter() - started
        stored = files.write_input(table, folder, chunk_rows())
        n_rows = table.num_rows
        del table
        log.info(
            "batch upload: %s rows read and typed in %.2f s, stored in %.2f s",
            n_rows,
            read_s,
            time.perf_counter() - started - read_s,
        )
        return _start_job(
            user,
            model,
            {"source": "upload", "input": files.relative(stored)},
            folder,
            n_rows,
            explain_rows,
        )
    except BaseException:
        files.remove_folder(folder)
        raise


def score_dataset(
    user: User,
    model_id: int,
    dataset_id: int,
    version: int | None = None,
    *,
    explain_rows: bool = False,
) -> SyncAnswer | Job:
    """Score a stored dataset version of the same user: the CSV now, or a queued job."""
    where = ("json", "dataset_id")
    model = _checked_model(user, model_id)
    dataset = datasets.get_dataset(user, dataset_id)
    row = datasets.get_version(dataset, version)
    path = datasets.version_path(row)
    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    _missing_columns(model, names, where)
    n_rows = parquet.metadata.num_rows
    if n_rows == 0:
        raise _no_rows(where)
    if n_rows <= sync_rows():
        return _score_now(
            model, parquet.iter_batches(batch_size=chunk_rows()), names, explain_rows, where
        )
    folder = files.new_folder()
    try:
        return _start_job(
            user,
            model,
            {"source": "dataset", "dataset_id": dataset.id, "version": row.version},
            folder,
            n_rows,
            explain_rows,
        )
    except BaseException:
        files.remove_folder(folder)
        raise


def _start_job(
    user: User, model: TrainedModel, source: dict, folder: Path, n_rows: int, explain_rows: bool
) -> Job:
    request = {
        "model_id": model.id,
        **source,
        "folder": files.relative(folder),
        "n_rows": n_rows,
        "explain": explain_rows,
    }
    return jobs.enqueue(user, KIND, request)  # the folder's random name makes each request unique
