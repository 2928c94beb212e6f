"""Long work as jobs: one interface over the backends (`local` child processes, `celery` workers).

The web layer calls the functions below; a kind of work registers its function
with `@job_function("training") def run(job_id, ctx) -> dict | None`. The job row
(app.models.job.Job) is the truth every process reads: nothing lives only in memory.
"""

from app.jobs.backend import Backend, get_backend
from app.jobs.context import JobContext
from app.jobs.registry import UnknownJobKind, job_function
from app.jobs.service import (
    DuplicateJob,
    cancel,
    create_job,
    enqueue,
    find_duplicate,
    init_app,
    recover_stale_jobs,
    refresh,
    request_key,
    retry,
    submit,
)

__all__ = [
    "Backend", "DuplicateJob", "JobContext", "UnknownJobKind", "cancel", "create_job", "enqueue",
    "find_duplicate", "get_backend", "init_app", "job_function", "recover_stale_jobs", "refresh",
    "request_key", "retry", "submit",
]
