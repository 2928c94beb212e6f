"""Why a file is refused: each error carries the HTTP-ish status the web layer returns."""

from __future__ import annotations

from app.ml.errors import ServiceError


class IngestError(ServiceError):
    """A file that cannot become a dataset; nothing has been stored. `line` names where."""

    status = 422

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


class NoDataRows(IngestError):
    """Empty, blank or header-only; `columns` holds the header names when there was one."""

    status = 422

    def __init__(self, message: str = "no data rows: the file is empty or has only a header",
                 columns: list[str] | None = None):
        super().__init__(message)
        self.columns = columns or []


class NotText(IngestError):
    status = 415


class TooLarge(IngestError):
    status = 413


class BadArchive(IngestError):
    status = 422


class TooManyColumns(IngestError):
    status = 422


class CellTooLarge(IngestError):
    status = 422


class TooManyBadRows(IngestError):
    status = 422


class BadOverride(IngestError):
    status = 422
