"""The batch job's kind and the sizes that decide how a batch is scored."""

from __future__ import annotations

from flask import current_app

KIND = "batch_scoring"
CHUNK_ROWS = 100_000  # rows scored at once: bounds the memory of a job whatever the file's size
MAX_WARNINGS = 50


def sync_rows() -> int:
    """Up to this many rows the CSV is the answer of the request; above, a job."""
    return int(current_app.config.get("BATCH_SYNC_ROWS", 50_000))


def chunk_rows() -> int:
    return int(current_app.config.get("BATCH_CHUNK_ROWS", CHUNK_ROWS))
