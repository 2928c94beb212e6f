"""What each dataset page shows, gathered from the service into plain values for its template."""

from __future__ import annotations

from flask import current_app, url_for

from app.blueprints.datasets import presenters, service
from app.blueprints.datasets.operation_forms import (
    CAST_TARGETS,
    FILL_STRATEGIES,
    FILTER_OPERATORS,
    OPERATIONS,
    describe_operation,
)
from app.blueprints.datasets.table_query import (
    FILTER_LABELS,
    PAGE_SIZE,
    TableQuery,
    describe_filter,
)
from app.extensions import db
from app.ml.explore import InvalidQuery

MAX_TABLE_COLUMNS = 100  # a wider table is shown in part (filters and downloads still cover every column)
TRAIN_RULE = "/datasets/<int:dataset_id>/train"
KIND_SHORT = {"integer": "int", "float": "num", "boolean": "bool", "categorical": "cat",
              "datetime": "date", "text": "text", "id": "id"}


def _versions(dataset) -> list[dict]:
    return [{"version": v.version, "n_rows": v.n_rows, "n_cols": v.n_cols,
             "op": (v.operation or {}).get("op", ""), "created_at": v.created_at}
            for v in service.list_versions(dataset)]


def train_url(dataset_id: int) -> str | None:
    """The training page of API.md's /datasets/<id>/train, once the training feature serves it."""
    for rule in current_app.url_map.iter_rules():
        if rule.rule == TRAIN_RULE and "GET" in (rule.methods or ()):
            return url_for(rule.endpoint, dataset_id=dataset_id)
    return None


def header(dataset, version=None) -> dict:
    """The dataset's name, the version shown and the latest one, for the page header and nav."""
    row = version or service.get_version(dataset)
    return {"id": dataset.id, "name": dataset.name, "version": row.version,
            "latest": dataset.current_version, "n_rows": row.n_rows, "n_cols": row.n_cols,
            "source_filename": dataset.source_filename, "created_at": dataset.created_at,
            "train_url": train_url(dataset.id)}


def home(user) -> list[dict]:
    return [service.dataset_summary(d) for d in db.session.scalars(service.list_datasets(user))]


def table(dataset, query: TableQuery) -> tuple[dict, int]:
    """The table page's context and status (422 when the sort, filter or search cannot be run)."""
    version = service.get_version(dataset, query.version)
    kinds = {c["name"]: c["kind"] for c in version.columns}
    error = None
    try:
        result = service.rows(dataset, version.version, **query.rows_query())
    except InvalidQuery as exc:
        error = exc.message
        result = {"total": 0, "offset": 0, "limit": PAGE_SIZE, "columns": list(kinds), "rows": []}
    total = result["total"]
    pages = max(1, -(-total // PAGE_SIZE))
    columns = [{"name": n, "kind": kinds.get(n, ""), "short": KIND_SHORT.get(kinds.get(n, ""), "")}
               for n in result["columns"][:MAX_TABLE_COLUMNS]]
    rows = [{"position": r.get("_row"), "cells": [presenters.cell(r.get(c["name"])) for c in columns],
             "missing": [r.get(c["name"]) is None for c in columns]} for r in result["rows"]]
    context = {
        "dataset": header(dataset, version), "query": query, "columns": columns, "rows": rows,
        "total": total, "first": query.offset + 1 if rows else 0, "last": query.offset + len(rows),
        "page_number": query.page, "pages": pages, "error": error, "versions": _versions(dataset),
        "is_latest": version.version == dataset.current_version,
        "filters": [(spec, describe_filter(spec, list(kinds))) for spec in query.filters],
        "filter_labels": FILTER_LABELS, "details": details(dataset, version),
        "all_columns": list(kinds), "hidden_columns": max(0, len(result["columns"]) - MAX_TABLE_COLUMNS),
    }
    return context, 422 if error else 200


def details(dataset, version=None) -> dict:
    """The "how the file was read" panel: dialect, repairs and warnings of the version shown."""
    row = version or service.get_version(dataset)
    repairs, dialect = row.repairs or {}, row.dialect or {}
    attention = bool(row.warnings or repairs.get("rows_repaired") or repairs.get("rows_skipped")
                     or dialect.get("skipped_lines"))
    return {"dialect_rows": presenters.dialect_rows(dialect, repairs), "dialect": dialect,
            "summary": presenters.dialect_summary(dialect, repairs),
            "warnings": row.warnings or [], "attention": attention}


def profile(dataset, version_number: int | None) -> dict:
    version = service.get_version(dataset, version_number)
    view = presenters.profile_view(service.profile(dataset, version.version))
    return {"dataset": header(dataset, version), "profile": view, "versions": _versions(dataset)}


def clean(dataset, **extra) -> dict:
    """The clean page's workspace: forms over the latest columns, history, undo."""
    version = service.get_version(dataset)
    history = [{**h, "text": describe_operation(h["op"], h["params"])}
               for h in service.operation_history(dataset)]
    context = {
        "dataset": header(dataset, version), "columns": version.columns, "history": history,
        "cast_targets": CAST_TARGETS, "fill_strategies": FILL_STRATEGIES,
        "filter_operators": FILTER_OPERATORS, "filter_labels": FILTER_LABELS, "operations": OPERATIONS,
        "message": None, "preview": None,
    }
    context.update(extra)
    return context


def preview(dataset, op: str, params: dict) -> dict:
    result = service.preview(dataset, op, params)
    columns = result.get("columns", [])
    return {
        "op": op, "text": describe_operation(op, params), "columns": columns,
        "rows": [{"position": r.get("_row"), "cells": [presenters.cell(r.get(c)) for c in columns],
                  "missing": [r.get(c) is None for c in columns]} for r in result.get("rows", [])],
        "rows_before": result.get("rows_before", 0), "rows_after": result.get("rows_after", 0),
        "cells_changed": result.get("cells_changed", 0),
    }
