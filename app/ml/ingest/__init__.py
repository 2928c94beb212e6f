"""CSV ingest: detect the dialect of an upload, read it robustly and store it as Parquet."""

from .errors import (
    BadArchive,
    BadOverride,
    CellTooLarge,
    IngestError,
    NoDataRows,
    NotText,
    TooLarge,
    TooManyBadRows,
    TooManyColumns,
)
from .model import ColumnInfo, Dialect, IngestResult, IngestWarning, Repairs
from .pipeline import ingest_file, read_table

__all__ = [
    "BadArchive",
    "BadOverride",
    "CellTooLarge",
    "ColumnInfo",
    "Dialect",
    "IngestError",
    "IngestResult",
    "IngestWarning",
    "NoDataRows",
    "NotText",
    "Repairs",
    "TooLarge",
    "TooManyBadRows",
    "TooManyColumns",
    "ingest_file",
    "read_table",
]
