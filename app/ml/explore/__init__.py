"""Explore a dataset version: the paginated, sortable, filterable table view."""

from app.ml.explore.dataset_file import read_kinds
from app.ml.explore.errors import DataError, DatasetFileMissing, InvalidOperation, InvalidQuery
from app.ml.explore.rows import query_rows

__all__ = [
    "DataError",
    "DatasetFileMissing",
    "InvalidOperation",
    "InvalidQuery",
    "query_rows",
    "read_kinds",
]
