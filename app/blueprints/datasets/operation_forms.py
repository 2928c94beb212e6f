"""From the clean page's forms to an operation `{op, params}` of API.md.

The forms only gather values; app/ml validates them (an invalid operation is its 422). What is
checked here is what a form alone can get wrong: an unknown form, nothing chosen, bad JSON.
"""

from __future__ import annotations

import json
import re

from app.errors import DomainError

CAST_TARGETS = ("integer", "float", "boolean", "categorical", "text", "datetime")
FILL_STRATEGIES = ("constant", "mean", "median", "mode")
FILTER_OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "contains", "is_missing", "not_missing")
OPERATIONS = ("drop_columns", "rename_columns", "cast", "fill_missing", "drop_missing",
              "drop_duplicates", "drop_rows", "filter_rows", "replace_values", "parse_dates", "trim_text")
MAX_JSON = 100_000
ROW_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")
MAX_ROWS_LISTED = 10_000


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(message, {"form": {field: [message]}})


def _text(form, key: str) -> str:
    return (form.get(key) or "").strip()


def _columns(form, required: bool = True) -> list[str] | None:
    names = [n for n in form.getlist("columns") if n]
    if not names:
        if required:
            raise _invalid("columns", "Choose at least one column.")
        return None
    return names


def _column(form, key: str = "column") -> str:
    name = form.get(key) or ""
    if not name:
        raise _invalid(key, "Choose a column.")
    return name


def parse_row_numbers(text: str) -> list[int]:
    """'3, 5, 10-12' -> [3, 5, 10, 11, 12] (0-based positions as the table shows them)."""
    numbers: list[int] = []
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        span = ROW_RANGE.match(part)
        if span:
            lo, hi = int(span.group(1)), int(span.group(2))
            if hi < lo or hi - lo >= MAX_ROWS_LISTED:
                raise _invalid("row_numbers", f"{part!r} is not a usable range of rows.")
            numbers.extend(range(lo, hi + 1))
        elif part.isdigit():
            numbers.append(int(part))
        else:
            raise _invalid("row_numbers", f"{part!r} is not a row number.")
        if len(numbers) > MAX_ROWS_LISTED:
            raise _invalid("row_numbers", f"List at most {MAX_ROWS_LISTED} rows at once.")
    if not numbers:
        raise _invalid("row_numbers", "List the row numbers to delete, for example 3, 5, 10-12.")
    return numbers


def _json_params(form) -> tuple[str, dict]:
    op = _text(form, "json_op")
    raw = form.get("params") or "{}"
    if len(raw) > MAX_JSON:
        raise _invalid("params", "The parameters are too long.")
    try:
        params = json.loads(raw)
    except ValueError as exc:
        raise _invalid("params", f"The parameters are not valid JSON: {exc}.") from exc
    if not isinstance(params, dict):
        raise _invalid("params", 'The parameters must be a JSON object, like {"columns": ["a"]}.')
    return op, params


def _optional_value(form, key: str = "value") -> str | None:
    value = form.get(key)
    return None if value is None or value == "" else value


def _build(op: str, form) -> dict:
    if op == "drop_columns":
        return {"columns": _columns(form)}
    if op == "rename_columns":
        new_name = _text(form, "new_name")
        if not new_name:
            raise _invalid("new_name", "Give the new name.")
        return {"mapping": {_column(form): new_name}}
    if op == "cast":
        params = {"column": _column(form), "to": form.get("to", "")}
        if form.get("on_invalid") == "missing":
            params["on_invalid"] = "missing"
        return params
    if op == "fill_missing":
        params = {"columns": _columns(form), "strategy": form.get("strategy", "")}
        if params["strategy"] == "constant":
            params["value"] = form.get("value", "")
        return params
    if op in ("drop_missing", "drop_duplicates", "trim_text"):
        columns = _columns(form, required=False)
        return {"columns": columns} if columns else {}
    if op == "drop_rows":
        return {"row_numbers": parse_row_numbers(form.get("row_numbers", ""))}
    if op == "filter_rows":
        params = {"column": _column(form), "operator": form.get("operator", "")}
        value = _optional_value(form)
        if value is not None and params["operator"] not in ("is_missing", "not_missing"):
            params["value"] = value
        return params
    if op == "replace_values":
        old = form.get("old")
        if old is None or old == "":
            raise _invalid("old", "Give the value to replace.")
        return {"column": _column(form), "mapping": {old: form.get("new", "")}}
    if op == "parse_dates":
        params = {"column": _column(form)}
        if _text(form, "format"):
            params["format"] = _text(form, "format")
        return params
    raise _invalid("op", f"Unknown operation {op!r}.")


def operation_from_form(form) -> tuple[str, dict]:
    """(op, params) from a submitted operation form (request.form)."""
    op = _text(form, "op")
    if op == "json":
        return _json_params(form)
    if op not in OPERATIONS:
        raise _invalid("op", f"Unknown operation {op!r}.")
    return op, _build(op, form)


def describe_operation(op: str | None, params: dict) -> str:
    """One line for the history ("drop_columns: a, b")."""
    if not params:
        return op or "?"
    parts = []
    for key, value in params.items():
        if isinstance(value, list):
            shown = ", ".join(map(str, value[:8])) + (f" … (+{len(value) - 8})" if len(value) > 8 else "")
        elif isinstance(value, dict):
            shown = ", ".join(f"{k} → {v}" for k, v in list(value.items())[:8])
        else:
            shown = str(value)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)
