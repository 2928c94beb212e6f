"""Cleaning operations as data: validate, preview and apply them to a dataset version.

Each operation lives in the registry (`REGISTRY`: name -> validator and planner), grouped by
what it touches: columns (drop, rename, cast, parse dates), values (fill, replace, trim) and
rows (drop missing, drop duplicates, drop rows, filter).
"""

from app.ml.explore.errors import InvalidOperation
from app.ml.operations import columns, rows, values  # noqa: F401 -- importing registers them
from app.ml.operations.engine import apply_operation, preview_operation, validate_operation
from app.ml.operations.registry import REGISTRY

__all__ = [
    "REGISTRY",
    "InvalidOperation",
    "apply_operation",
    "preview_operation",
    "validate_operation",
]
