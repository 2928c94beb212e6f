"""Parameter checks shared by the operations; each raises InvalidOperation naming the field."""

from __future__ import annotations

import datetime as dt

from app.ml.explore.dataset_file import Layout
from app.ml.operations.registry import invalid

STRING_KINDS = frozenset({"boolean", "categorical", "text", "id"})
NUMBER_KINDS = frozenset({"integer", "float"})


def only(params: dict, allowed: set[str], required: set[str] = frozenset()) -> None:
    """Reject unknown parameters (a typo must not silently do something else) and missing ones."""
    if not isinstance(params, dict):
        raise invalid("params", "Parameters must be an object.")
    for key in params:
        if key not in allowed:
            raise invalid(key, f"Unknown parameter {key!r}.")
    for key in sorted(required):
        if params.get(key) is None:
            raise invalid(key, f"Missing parameter {key!r}.")


def column(params: dict, lay: Layout, key: str = "column") -> str:
    name = params.get(key)
    if not isinstance(name, str):
        raise invalid(key, "Give one column name.")
    if name not in lay.kinds:
        raise invalid(key, f"Unknown column {name!r}.")
    return name


def columns(
    params: dict, lay: Layout, key: str = "columns", *, optional: bool = False
) -> list[str]:
    """A non-empty list of distinct known columns; all columns when optional and absent."""
    kinds = lay.kinds
    names = params.get(key)
    if names is None and optional:
        return list(kinds)
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise invalid(key, "Give a non-empty list of column names.")
    unknown = [n for n in names if n not in kinds]
    if unknown:
        raise invalid(
            key,
            f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(map(repr, unknown))}.",
        )
    return list(dict.fromkeys(names))


def choice(params: dict, key: str, options: tuple[str, ...], default: str | None = None) -> str:
    value = params.get(key, default)
    if value not in options:
        raise invalid(key, f"Must be one of: {', '.join(options)}.")
    return value


def on_invalid(params: dict) -> str:
    """What to do with values that cannot be converted: refuse (default) or make them missing."""
    return choice(params, "on_invalid", ("refuse", "missing"), "refuse")


def typed_value(value, lay: Layout, column_name: str, key: str):
    """A user-given cell value checked against how the column is stored (None means missing)."""
    if value is None:
        return None
    if lay.is_number(column_name):
        number = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = None
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number != number:
            raise invalid(key, f"Column {column_name!r} holds numbers; {value!r} is not a number.")
        if lay.is_integer(column_name):
            if float(number) != int(number):
                raise invalid(
                    key, f"Column {column_name!r} holds whole numbers; {value!r} is not one."
                )
            return int(number)
        return float(number)
    if lay.is_temporal(column_name):
        try:
            return dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise invalid(
                key, f"Column {column_name!r} holds dates; {value!r} is not an ISO 8601 date."
            ) from None
    if isinstance(value, (dict, list)):
        raise invalid(key, f"{value!r} is not a single value.")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
