"""The operation registry: name -> (validator, planner), and the Plan a planner returns.

A validator checks the parameters against the columns, kinds and storage types alone (no data,
a Layout) and returns
them normalised; a planner turns them into a Plan — the SQL select that produces the new
version from the view `src` (the old version plus `__row`, its 0-based row position) — after
any check that needs the data. Nothing is written until a plan exists, so an invalid
operation changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.ml.explore.dataset_file import Layout, ident
from app.ml.explore.errors import InvalidOperation


@dataclass
class Plan:
    """Output columns as (name, SQL expression, source column or None), kinds, optional row filter."""

    columns: list[tuple[str, str, str | None]]
    kinds: dict[str, str]
    where: str = ""
    where_params: list = field(default_factory=list)
    column_params: dict[str, list] = field(default_factory=dict)
    qualify: str = ""

    @classmethod
    def keep_all(cls, lay: Layout, kinds: dict[str, str] | None = None) -> Plan:
        return cls([(c, ident(c), c) for c in lay.columns], dict(kinds or lay.kinds))

    def replace(self, column: str, expr: str, params: list | None = None) -> None:
        """Swap one column's expression, with the parameters its `?` placeholders take."""
        self.columns = [(n, expr if n == column else e, o) for n, e, o in self.columns]
        self.column_params[column] = list(params or [])

    @property
    def select_params(self) -> list:
        """The parameters of all column expressions, in column order."""
        return [p for name, _, _ in self.columns for p in self.column_params.get(name, [])]


@dataclass(frozen=True)
class Context:
    """What a planner may look at: a DuckDB cursor with the `src` view and the version's layout."""

    con: object
    layout: Layout


Validator = Callable[[dict, Layout], dict]
Planner = Callable[[Context, dict], Plan]


@dataclass(frozen=True)
class Operation:
    name: str
    validate: Validator
    plan: Planner


REGISTRY: dict[str, Operation] = {}


def register(name: str, validate: Validator):
    """Decorator for a planner: REGISTRY[name] = Operation(name, validate, planner)."""

    def wrap(planner: Planner) -> Planner:
        REGISTRY[name] = Operation(name, validate, planner)
        return planner

    return wrap


def invalid(field_name: str, message: str) -> InvalidOperation:
    return InvalidOperation(message, {field_name: [message]})
