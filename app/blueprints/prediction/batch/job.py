"""The batch job function: score the job's input chunk by chunk into its folder, reporting progress."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from app.blueprints.datasets import service as datasets
from app.blueprints.prediction import service
from app.blueprints.prediction.batch import files
from app.blueprints.prediction.batch.config import KIND, chunk_rows
from app.blueprints.prediction.batch.scoring import write_scored
from app.extensions import db
from app.jobs import job_function
from app.ml.serving import InvalidInput
from app.models import Dataset, Job, TrainedModel

log = logging.getLogger(__name__)


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
    folder = files.absolute(request["folder"])
    pipeline = service.loaded(model)
    log.info(
        "batch job %s: model loaded %.2f s after the job function started",
        job_id,
        time.perf_counter() - started,
    )
    _ = (
        model.features,
        model.background,
        model.classes,
        model.task,
    )  # loaded: the row is detached below
    db.session.expunge(model)
    db.session.rollback()  # end the read transaction: the heartbeat writes meanwhile
    with files.open_input(path, chunk_rows()) as (names, total, batches):
        ctx.report_progress({"fraction": 0.0, "rows_done": 0, "message": f"Scoring {total:,} rows"})

        def chunk_done(done: int) -> None:
            log.debug(
                "batch job %s: %s rows scored at %.2f s",
                job_id,
                done,
                time.perf_counter() - started,
            )
            if ctx.should_stop():
                raise BatchStopped()
            ctx.report_progress(
                {
                    "fraction": round(done / max(total, 1), 4),
                    "rows_done": done,
                    "message": f"Scored {done:,} of {total:,} rows",
                }
            )

        try:
            with files.output_file(folder) as out:
                n_rows, escaped, warnings = write_scored(
                    model,
                    pipeline,
                    batches,
                    out,
                    input_names=names,
                    explain_rows=bool(request.get("explain")),
                    on_chunk=chunk_done,
                )
        except InvalidInput as exc:
            raise InvalidInput(_row_message(exc), exc.errors) from exc
    if request.get("source") == "upload":
        path.unlink(missing_ok=True)  # the output is what is kept
    service._observe(model.id, n_rows, time.perf_counter() - started)
    log.info(
        "batch job %s: %s rows written in %.2f s", job_id, n_rows, time.perf_counter() - started
    )
    return {
        "n_rows": n_rows,
        "output": files.relative(folder / files.OUTPUT),
        "formula_cells_escaped": escaped,
        "warnings": warnings,
    }


def _job_input(job: Job) -> Path:
    request = job.request
    if request.get("source") == "upload":
        return files.absolute(request["input"])
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
