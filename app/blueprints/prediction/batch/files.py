"""A batch job's folder, DATA_DIR/batch/<random id>/: its input, its output, its removal.

An uploaded file's typed rows are kept as an uncompressed Arrow IPC file in chunk-sized record
batches, read once by the job through a memory map (no decoding), then deleted; a stored
dataset version is read from its own Parquet file. The output CSV is written to a temporary
file, fsynced and renamed, so a download never sees a partial file. The folder goes after
the commit that deletes its job, the job's model or the job's user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app import storage
from app.blueprints.prediction.batch.config import KIND
from app.extensions import db
from app.models import Job, TrainedModel, User

FOLDER = "batch"
INPUT = "input.arrow"
OUTPUT = "predictions.csv"
PENDING_REMOVAL = "batch_folders_to_remove"


def new_folder() -> Path:
    return storage.new_folder(FOLDER)


def write_input(table: pa.Table, folder: Path, chunk_rows: int) -> Path:
    """The table as record batches of `chunk_rows` rows, atomically (temporary file, rename).

    Not fsynced: the file lives until its job has run, and a job whose machine stopped is
    failed ('interrupted') whatever its input became. Arrow IPC without compression is
    written at disk speed and read back without decoding (0.43 s and ~0 s for the 1M-row
    benchmark file, against 0.85 s and 1.2 s for lz4 Parquet)."""
    dest = folder / INPUT
    fd, tmp = tempfile.mkstemp(prefix=".input-", suffix=".part", dir=folder)
    os.close(fd)
    try:
        with pa.OSFile(tmp, "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            for start in range(0, table.num_rows, chunk_rows):
                # one batch per chunk (the CSV reader's blocks are smaller)
                writer.write_table(table.slice(start, chunk_rows).combine_chunks())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


@contextlib.contextmanager
def open_input(
    path: Path, chunk_rows: int
) -> Iterator[tuple[list[str], int, Iterator[pa.RecordBatch]]]:
    """(column names, rows, record batches) of a job's input: its IPC file or a dataset's Parquet."""
    if path.suffix == ".arrow":
        with pa.memory_map(str(path)) as source:
            reader = ipc.open_file(source)
            count = reader.num_record_batches
            rows = sum(reader.get_batch(i).num_rows for i in range(count))
            yield reader.schema.names, rows, (reader.get_batch(i) for i in range(count))
        return
    parquet = pq.ParquetFile(path)
    yield (
        parquet.schema_arrow.names,
        parquet.metadata.num_rows,
        parquet.iter_batches(batch_size=chunk_rows),
    )


@contextlib.contextmanager
def output_file(folder: Path) -> Iterator:
    """A binary file that becomes folder/OUTPUT once the block ends without an error."""
    fd, tmp = tempfile.mkstemp(prefix=".predictions-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, folder / OUTPUT)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


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


def relative(path: Path) -> str:
    return storage.relative(path)


def absolute(relative_path: str) -> Path:
    return storage.absolute(relative_path)


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


# --- deleting: a job's folder goes with the job, its model or its user ------------------------


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
            for job in session.scalars(
                select(Job).where(Job.user_id == obj.user_id, Job.kind == KIND)
            ):
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
