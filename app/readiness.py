"""Readiness checks: each returns None when fine or a short description of the problem.

Features add their own checks (the tracking store, the job queue) with add_check().
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from flask import Flask
from sqlalchemy import text

from app.extensions import db


def database_ready(app: Flask) -> str | None:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready
        db.session.rollback()
        return f"database: {type(exc).__name__}"
    return None


def data_dir_ready(app: Flask) -> str | None:
    data_dir = app.config["DATA_DIR"]
    try:
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".ready-"):
            pass
    except OSError as exc:
        return f"data directory: {exc.strerror or exc}"
    if not os.access(data_dir, os.W_OK):
        return "data directory: not writable"
    return None


Check = Callable[[Flask], str | None]


def add_check(app: Flask, check: Check) -> None:
    app.extensions.setdefault("readiness_checks", [database_ready, data_dir_ready]).append(check)


def check_readiness(app: Flask) -> list[str]:
    checks = app.extensions.get("readiness_checks", [database_ready, data_dir_ready])
    return [problem for check in checks if (problem := check(app))]
