"""Domain errors of the explore/profile/clean engine; each carries an HTTP-ish status for the web layer."""

from __future__ import annotations

from app.ml.errors import ServiceError


class DataError(ServiceError):
    """Base class: `status` (HTTP-ish int), `message` (for a human), `errors` ({field: [messages]})."""

    status = 422


class DatasetFileMissing(DataError):
    """The Parquet file of a version is not on disk (deleted, or a wrong path)."""

    status = 404


class InvalidQuery(DataError):
    """A sort, filter or page argument of query_rows that cannot be honoured."""


class InvalidOperation(DataError):
    """A cleaning operation that is unknown, malformed or would damage the data; nothing is written."""
