"""Where jobs run: the port, and the choice of adapter from JOB_BACKEND."""

from __future__ import annotations

from typing import Protocol

from flask import Flask, current_app

from app.jobs.settings import setting


class Backend(Protocol):
    """Runs queued jobs. The job row is the truth; a backend only starts and stops work.

    `LocalBackend` (child processes of the server) or `CeleryBackend` (JOB_BACKEND=celery:
    `submit`ted ids go to a worker's task that calls `app.jobs.runner.execute`).
    """

    name: str

    def submit(self, job_id: int) -> None:
        """The committed, queued job `job_id` should run when capacity allows."""

    def dispatch(self, bind=None) -> list[int]:
        """Start whatever queued jobs can start now; their ids."""

    def cancel(self, job_id: int, pid: int | None, worker: str | None) -> None:
        """End the work of a job whose row is already marked cancelled."""

    def is_lost(self, job_id: int, pid: int | None, worker: str | None) -> bool:
        """True when a running job's process is known to be gone (before its heartbeat says so)."""


def make_backend(app: Flask) -> Backend:
    name = setting(app.config, "JOB_BACKEND")
    if name == "local":
        from app.jobs.local import LocalBackend

        return LocalBackend(app)
    if name == "celery":
        from app.jobs.celery_backend import CeleryBackend

        return CeleryBackend(app)
    raise RuntimeError(f"JOB_BACKEND={name!r} is not available (known: local, celery).")


def get_backend() -> Backend:
    return current_app.extensions["jobs"]
