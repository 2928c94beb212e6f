"""From a multipart upload and form fields to what the dataset service takes."""

from __future__ import annotations

from pathlib import Path

from marshmallow import ValidationError
from werkzeug.datastructures import FileStorage

from app.blueprints.datasets.schemas import UploadFormSchema
from app.errors import DomainError

PARSE_KEYS = ("delimiter", "encoding", "decimal", "header")


def parse_upload(request) -> tuple[dict, FileStorage]:
    """The validated form fields and the file of a multipart upload (422 naming what is wrong)."""
    try:
        form = UploadFormSchema().load(request.form.to_dict())
    except ValidationError as exc:
        raise DomainError("The upload's settings are not valid.", {"form": exc.messages}) from exc
    upload = request.files.get("file")
    if upload is None:
        raise DomainError("Choose a file to upload.", {"files": {"file": ["Missing data for required field."]}})
    return form, upload


def uploaded_path(upload: FileStorage | None) -> Path:
    """The temporary file the upload streamed into (app.storage.UploadRequest makes one per file)."""
    name = getattr(getattr(upload, "stream", None), "name", None)
    if upload is None or not isinstance(name, str):
        raise DomainError("Choose a file to upload.", {"files": {"file": ["Missing data for required field."]}})
    upload.stream.flush()
    return Path(name)


def parse_options(data: dict) -> dict:
    """The dialect overrides a user gave ('tab' and '\\t' mean a tab)."""
    options = {key: data[key] for key in PARSE_KEYS if data.get(key) not in (None, "")}
    if options.get("delimiter") in ("tab", "\\t"):
        options["delimiter"] = "\t"
    return options
