"""Batch scoring: a file or a stored dataset version through a model, chunk by chunk.

Up to BATCH_SYNC_ROWS rows the CSV is the answer of the request; above, the input is kept
as Parquet under DATA_DIR/batch/<random id>/ and a `batch_scoring` job scores it chunk by
chunk (memory stays bounded whatever the number of rows), reporting its progress, and
writes the output CSV atomically next to it. The folder goes when the job, its model or
its user is deleted (see `_deleted_jobs_take_their_files`).
"""

from __future__ import annotations

import io
import logging
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from flask import current_app
from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from app import jobs, storage
from app.blueprints.datasets import service as datasets
from app.blueprints.prediction import service
from app.blueprints.prediction.chunks import Chunk, Spec, output_names, scored_chunks
from app.blueprints.training import service as training
from app.errors import Conflict, DomainError, NotFound
from app.extensions import db
from app.jobs import job_function
from app.ml.export import write_csv
from app.ml.serving import InvalidInput
from app.models import Dataset, Job, PredictionLog, TrainedModel, User
from app.models.job import SUCCEEDED
from app.models.user import utcnow

KIND = "batch_scoring"
FOLDER = "batch"
INPUT = "input.parquet"
OUTPUT = "predictions.csv"
CHUNK_ROWS = 100_000  # rows scored at once: bounds the memory of a job whatever the file's size
MAX_WARNINGS = 50
log = logging.getLogger(__name__)


def sync_rows() -> int:
    return int(current_app.config.get("BATCH_SYNC_ROWS", 50_000))


def chunk_rows() -> int:
    return int(current_app.config.get("BATCH_CHUNK_ROWS", CHUNK_ROWS))


# --- scoring into a file -----------------------------------------------------------------

@dataclass
class Scored:
    """What the scoring of a file has given so far: rows scored and warnings."""

    n_rows: int = 0
    warnings: list[str] = field(default_factory=list)


def make_spec(model: TrainedModel, input_names: list[str], explain_rows: bool) -> Spec:
    kept, header = output_names(model, input_names, explain_rows)
    return Spec(model.task, list(model.classes) if model.classes else None, list(model.features), kept, header,
                explain_rows, service.background_frame(model) if explain_rows else None)


def _sample_logger(model: TrainedModel, spec: Spec):
    """Log the first rows scored (the sample for drift has a daily cap anyway)."""
    cap = int(current_app.config.get("PREDICTION_SAMPLE_MAX_PER_DAY", 10_000))
    names = [f["name"] for f in spec.features]

    def log_first(chunk: Chunk) -> None:
        if chunk.offset or cap <= 0:
            return
        n = min(len(chunk.labels), cap)
        rows = chunk.batch.slice(0, n).select(names).to_pylist()
        probs = ([{c: float(v[i]) for c, v in chunk.probabilities.items()} for i in range(n)]
                 if chunk.probabilities else None)
        _log_sample(model, rows, chunk.labels[:n], probs)

    return log_first


def _log_sample(model: TrainedModel, rows: list[dict], predictions: list, probabilities: list | None) -> None:
    """sampling.log_sampled's rows (rate, daily cap, inputs, prediction) in one executemany.

    Up to PREDICTION_SAMPLE_MAX_PER_DAY rows: as ORM objects they took ~9 s of a loaded
    machine before the first chunk of a job was reported; a bulk insert takes a fraction."""
    rate = float(current_app.config.get("PREDICTION_SAMPLE_RATE", 1.0))
    cap = int(current_app.config.get("PREDICTION_SAMPLE_MAX_PER_DAY", 10_000))
    since = utcnow() - timedelta(days=1)
    stored_today = db.session.scalar(select(func.count(PredictionLog.id)).where(
        PredictionLog.model_id == model.id, PredictionLog.created_at >= since)) or 0
    room = max(0, cap - stored_today)
    chosen = [i for i in range(len(predictions)) if rate >= 1.0 or random.random() < rate][:room]  # noqa: S311
    if not chosen:
        return
    names = [f["name"] for f in model.features]
    now = utcnow()
    values = []
    for i in chosen:
        prediction = {"value": predictions[i]}
        if probabilities is not None:
            prediction["probabilities"] = probabilities[i]
        values.append({"uid": uuid.uuid4().hex, "model_id": model.id, "user_id": model.user_id, "created_at": now,
                       "inputs": {n: service._json_safe(rows[i].get(n)) for n in names}, "prediction": prediction,
                       "actual": None, "actual_at": None})
    db.session.execute(insert(PredictionLog), values)
    db.session.commit()


def write_scored(model: TrainedModel, pipeline, batches, out, *, input_names: list[str], explain_rows: bool,
                 on_chunk: Callable[[int], None] | None = None) -> tuple[int, int, list[str]]:
    """Score `batches` into `out` as formula-safe CSV; (rows, cells escaped, warnings)."""
    spec = make_spec(model, input_names, explain_rows)
    log_first = _sample_logger(model, spec)
    state = Scored()

    def outputs() -> Iterator[pa.RecordBatch]:
        for chunk in scored_chunks(spec, pipeline, batches):
            log_first(chunk)  # in this thread: the database session is this thread's
            for w in chunk.warnings:
                if w not in state.warnings and len(state.warnings) < MAX_WARNINGS:
                    state.warnings.append(w)
            state.n_rows += chunk.batch.num_rows
            if on_chunk is not None:
                on_chunk(state.n_rows)
            yield chunk.output

    escaped = write_csv(spec.header, outputs(), out)
    return state.n_rows, escaped, state.warnings


# --- the request: answer now or start a job -------------------------------------------

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
        raise DomainError(f"The {source} lacks the model's input columns: {listed}.",
                          {where[0]: {where[1]: [f"Missing columns: {listed}."]}, "missing_columns": missing})


def _checked_model(user: User, model_id: int) -> TrainedModel:
    model = training.get_model(user, model_id)
    if not model.model_uri or not model.features:
        raise DomainError("This model has no saved files.", status=404)
    return model


def _score_now(model: TrainedModel, batches, input_names: list[str], explain_rows: bool,
               where: tuple[str, str]) -> SyncAnswer:
    started = time.perf_counter()
    pipeline = service.loaded(model)
    buffer = io.BytesIO()
    try:
        n_rows, escaped, warnings = write_scored(model, pipeline, batches, buffer, input_names=input_names,
                                                 explain_rows=explain_rows)
    except InvalidInput as exc:
        raise DomainError(exc.message, {where[0]: {where[1]: exc.errors}}, status=exc.status) from exc
    service._observe(model.id, n_rows, time.perf_counter() - started)
    return SyncAnswer(buffer.getvalue(), n_rows, escaped, warnings)


def _no_rows(where: tuple[str, str]) -> DomainError:
    return DomainError("There are no rows to score.", {where[0]: {where[1]: ["No data rows."]}})


def score_upload(user: User, model_id: int, path: Path, *, explain_rows: bool = False) -> SyncAnswer | Job:
    """Score an uploaded CSV (any dialect the dataset upload accepts): the CSV now, or a queued job."""
    from app.ml.ingest import read_table

    where = ("files", "file")
    model = _checked_model(user, model_id)
    table, _ = read_table(path, max_bytes=current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024,
                          count_unique=False)  # typed columns only: no profile, no distinct counts
    _missing_columns(model, table.column_names, where)
    if table.num_rows == 0:
        raise _no_rows(where)
    if table.num_rows <= sync_rows():
        return _score_now(model, table.to_batches(max_chunksize=chunk_rows()), table.column_names,
                          explain_rows, where)
    folder = storage.new_folder(FOLDER)
    try:
        _write_parquet(table, folder / INPUT)
        del table
        return _start_job(user, model, {"source": "upload", "input": storage.relative(folder / INPUT)},
                          folder, _parquet_rows(folder / INPUT), explain_rows)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def score_dataset(user: User, model_id: int, dataset_id: int, version: int | None = None, *,
                  explain_rows: bool = False) -> SyncAnswer | Job:
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
        return _score_now(model, parquet.iter_batches(batch_size=chunk_rows()), names, explain_rows, where)
    folder = storage.new_folder(FOLDER)
    try:
        return _start_job(user, model, {"source": "dataset", "dataset_id": dataset.id, "version": row.version},
                          folder, n_rows, explain_rows)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _start_job(user: User, model: TrainedModel, source: dict, folder: Path, n_rows: int,
               explain_rows: bool) -> Job:
    request = {"model_id": model.id, **source, "folder": storage.relative(folder), "n_rows": n_rows,
               "explain": explain_rows}
    return jobs.enqueue(user, KIND, request)  # the folder's random name makes each request unique


def _write_parquet(table: pa.Table, dest: Path) -> None:
    """Write atomically: a temporary file in the same folder, fsync, rename."""
    fd, tmp = tempfile.mkstemp(prefix=".input-", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        # Read once, by the job, then deleted: row groups of a chunk, no dictionaries, lz4
        # (0.9 instead of 1.2 CPU s for the 1M-row benchmark file; a file twice the default's).
        pq.write_table(table, tmp, row_group_size=chunk_rows(), use_dictionary=False, compression="lz4")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parquet_rows(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


# --- the job --------------------------------------------------------------------------

class BatchStopped(Exception):
    """The job was cancelled or deleted while it ran."""

    message = "The batch job was stopped."


@job_function(KIND)
def run_batch_scoring(job_id: int, ctx) -> dict:
    """Score the job's input chunk by chunk into its folder; the output replaces nothing until whole."""
    started = time.perf_counter()
    job = db.session.get(Job, job_id)
    request = job.request
    model = db.session.get(TrainedModel, request["model_id"])
    if model is None or model.user_id != job.user_id:
        raise LookupError("The model was deleted before the batch job ran.")
    path = _job_input(job)
    folder = storage.absolute(request["folder"])
    pipeline = service.loaded(model)
    log.info("batch job %s: model loaded %.2f s after the job function started", job_id,
             time.perf_counter() - started)
    _ = model.features, model.background, model.classes, model.task  # loaded: the row is detached below
    db.session.expunge(model)
    parquet = pq.ParquetFile(path)
    total = parquet.metadata.num_rows
    db.session.rollback()  # end the read transaction: the heartbeat writes meanwhile
    ctx.report_progress({"fraction": 0.0, "rows_done": 0, "message": f"Scoring {total:,} rows"})

    def chunk_done(done: int) -> None:
        log.debug("batch job %s: %s rows scored at %.2f s", job_id, done, time.perf_counter() - started)
        if ctx.should_stop():
            raise BatchStopped()
        ctx.report_progress({"fraction": round(done / max(total, 1), 4), "rows_done": done,
                             "message": f"Scored {done:,} of {total:,} rows"})

    fd, tmp = tempfile.mkstemp(prefix=".predictions-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            n_rows, escaped, warnings = write_scored(
                model, pipeline, parquet.iter_batches(batch_size=chunk_rows()), out,
                input_names=parquet.schema_arrow.names, explain_rows=bool(request.get("explain")),
                on_chunk=chunk_done)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, folder / OUTPUT)
    except InvalidInput as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InvalidInput(_row_message(exc), exc.errors) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    if request.get("source") == "upload":
        path.unlink(missing_ok=True)  # the output is what is kept
    service._observe(model.id, n_rows, time.perf_counter() - started)
    log.info("batch job %s: %s rows written in %.2f s", job_id, n_rows, time.perf_counter() - started)
    return {"n_rows": n_rows, "output": storage.relative(folder / OUTPUT), "formula_cells_escaped": escaped,
            "warnings": warnings}


def _job_input(job: Job) -> Path:
    request = job.request
    if request.get("source") == "upload":
        return storage.absolute(request["input"])
    dataset = db.session.get(Dataset, request["dataset_id"])
    if dataset is None or dataset.user_id != job.user_id:
        raise LookupError("The dataset was deleted before the batch job ran.")
    return datasets.version_path(datasets.get_version(dataset, request["version"]))


def _row_message(exc: InvalidInput) -> str:
    """The first bad row and feature in words (a job's error is one message)."""
    rows = exc.errors.get("rows") if isinstance(exc.errors, dict) else None
    if isinstance(rows, dict) and rows:
        index, problems = next(iter(rows.items()))
        if isinstance(problems, dict) and problems:
            feature, messages = next(iter(problems.items()))
            return f"Row {index}, {feature}: {messages[0] if messages else 'not valid'}"
    return exc.message


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- reading jobs ---------------------------------------------------------------------

def get_job(user: User, job_id: int) -> Job:
    """The user's batch job, brought up to date; another user's or a missing one is 404."""
    job = db.session.get(Job, job_id)
    if job is None or job.user_id != user.id or job.kind != KIND:
        raise NotFound("No such batch job.")
    return jobs.refresh(job)


def jobs_of_model(user: User, model: TrainedModel, limit: int = 5) -> list[Job]:
    """The model's latest batch jobs (for the model page)."""
    candidates = db.session.scalars(select(Job).where(Job.user_id == user.id, Job.kind == KIND)
                                    .order_by(Job.id.desc()).limit(200))
    return [j for j in candidates if (j.request or {}).get("model_id") == model.id][:limit]


def progress_of(job: Job) -> dict:
    progress = job.progress or {}
    return {"fraction": progress.get("fraction") or 0.0, "rows_done": progress.get("rows_done") or 0,
            "message": progress.get("message") or "", "elapsed_s": progress.get("elapsed_s")}


def output_path(user: User, job_id: int) -> Path:
    """The finished job's CSV; 409 before it succeeded."""
    job = get_job(user, job_id)
    if job.status != SUCCEEDED:
        raise Conflict(f"The batch job is {job.status}; its file is ready once it has succeeded.",
                       errors={"status": job.status})
    path = storage.absolute((job.result or {}).get("output") or str(Path(job.request["folder"]) / OUTPUT))
    if not path.exists():
        raise NotFound("The batch job's file is gone.")
    return path


# --- deleting: a job's folder goes with the job, its model or its user ------------------------

PENDING_REMOVAL = "batch_folders_to_remove"


def delete_all_for(user: User) -> None:
    """Account erasure: every batch job of the user (their files go once the deletion commits)."""
    for job in db.session.scalars(select(Job).where(Job.user_id == user.id, Job.kind == KIND)):
        db.session.delete(job)
    db.session.flush()


@event.listens_for(Session, "before_flush")
def _deleted_jobs_take_their_files(session, _flush_context, _instances) -> None:
    """A deleted model takes its batch jobs; a deleted batch job's folder goes after the commit."""
    for obj in list(session.deleted):
        if isinstance(obj, TrainedModel):
            for job in session.scalars(select(Job).where(Job.user_id == obj.user_id, Job.kind == KIND)):
                if (job.request or {}).get("model_id") == obj.id and job not in session.deleted:
                    session.delete(job)
    for obj in list(session.deleted):
        if isinstance(obj, Job) and obj.kind == KIND and (obj.request or {}).get("folder"):
            try:
                folder = storage.absolute(obj.request["folder"])
            except (ValueError, RuntimeError):
                continue
            session.info.setdefault(PENDING_REMOVAL, set()).add(str(folder))


@event.listens_for(Session, "after_commit")
def _remove_folders(session) -> None:
    for folder in session.info.pop(PENDING_REMOVAL, set()):
        shutil.rmtree(folder, ignore_errors=True)


@event.listens_for(Session, "after_rollback")
def _keep_folders(session) -> None:
    session.info.pop(PENDING_REMOVAL, None)

