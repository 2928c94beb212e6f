"""A model's MLflow directory as a zip download."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from flask import current_app, send_file

from app.errors import DomainError


def model_directory(model, dest: Path) -> Path:
    """Copy the model's MLflow directory (MLmodel, skops file, requirements) into `dest`."""
    import mlflow.artifacts

    from app.ml.tracking import artifact_location

    location = artifact_location(model.model_uri, current_app.config["MLFLOW_TRACKING_URI"])
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=str(dest)))


def send_model_zip(model):
    if not model.model_uri:
        raise DomainError("This model has no saved files.", status=404)
    work = Path(tempfile.mkdtemp(prefix="export-"))
    try:
        folder = model_directory(model, work / "download")
        archive = shutil.make_archive(str(work / f"model-{model.id}"), "zip", root_dir=folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    response = send_file(archive, mimetype="application/zip", as_attachment=True,
                         download_name=f"csv-analyzer-model-{model.id}.zip", max_age=0)
    response.call_on_close(lambda: shutil.rmtree(work, ignore_errors=True) if os.path.exists(work) else None)
    return response
