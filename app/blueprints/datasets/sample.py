"""The sample dataset a first-time user can load with one click (see app/sample_data/README.md)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from app import storage
from app.blueprints.datasets import service

SAMPLE_FILE = Path(__file__).resolve().parents[2] / "sample_data" / "penguins.csv"
SAMPLE_NAME = "Palmer penguins (sample)"


def create_sample_dataset(user):
    """Copy the shipped file where uploads land and store it through the normal upload path."""
    folder = storage.data_dir() / storage.UPLOAD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with (tempfile.NamedTemporaryFile(dir=folder, prefix="up-", suffix=".part", delete=False) as tmp,
          open(SAMPLE_FILE, "rb") as src):
        shutil.copyfileobj(src, tmp)
    try:
        return service.create_dataset(user, Path(tmp.name), SAMPLE_FILE.name, SAMPLE_NAME)
    finally:
        storage.remove_file(tmp.name)  # moved on success; left behind only on failure
