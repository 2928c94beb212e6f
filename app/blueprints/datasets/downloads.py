"""Downloads of a dataset version: an attachment with an RFC 6266 file name."""

from __future__ import annotations

import os
import re

from flask import send_file

from app.blueprints.datasets import service

MIMETYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def download_name(name: str, version: int, fmt: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "dataset"
    return f"{stem[:80]}-v{version}.{fmt}"


def send_export(dataset, version: int | None, fmt: str):
    number = service.get_version(dataset, version).version
    path, escaped = service.export(dataset, number, fmt)
    response = send_file(path, mimetype=MIMETYPES[fmt], as_attachment=True,
                         download_name=download_name(dataset.name, number, fmt), max_age=0)
    response.call_on_close(lambda: os.path.exists(path) and os.unlink(path))
    if fmt == "csv":
        response.headers["X-Formula-Cells-Escaped"] = str(escaped)
    return response
