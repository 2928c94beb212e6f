"""Batch scoring: a file or a stored dataset version through a model, chunk by chunk.

Up to BATCH_SYNC_ROWS rows the CSV is the answer of the request; above, the typed input is
kept under DATA_DIR/batch/<random id>/ and a `batch_scoring` job scores it chunk by chunk
(memory stays bounded whatever the number of rows), reporting its progress, and writes the
output CSV atomically next to it. The folder goes when the job, its model or its user is
deleted.

- `submit`: the request: validate, answer now, or store the input and queue a job;
- `job`: the job function;
- `scoring`: chunks scored into a CSV file, the drift sample of the first rows;
- `files`: the job's folder: input, output, removal with the job;
- `lookups`: a user's batch jobs, their progress and output file.
"""

from app.blueprints.prediction.batch.config import KIND
from app.blueprints.prediction.batch.files import delete_all_for
from app.blueprints.prediction.batch.job import run_batch_scoring
from app.blueprints.prediction.batch.lookups import get_job, jobs_of_model, output_path, progress_of
from app.blueprints.prediction.batch.submit import SyncAnswer, score_dataset, score_upload

__all__ = [
    "KIND",
    "SyncAnswer",
    "delete_all_for",
    "get_job",
    "jobs_of_model",
    "output_path",
    "progress_of",
    "run_batch_scoring",
    "score_dataset",
    "score_upload",
]
