"""The table view's state (page, sort, search, filters, version) read from a query string.

One object parses the request and writes the URL back, so every link, form and pushed URL of
the table agrees on the same canonical query string.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from app.ml.explore.predicates import OPERATORS, VALUELESS

PAGE_SIZE = 50
MAX_FILTERS = 20
MAX_SEARCH = 200
FILTER_LABELS = {
    "==": "equals", "!=": "is not", "<": "<", "<=": "≤", ">": ">", ">=": "≥",
    "contains": "contains", "is_missing": "is missing", "not_missing": "is not missing",
}


def _positive_int(text: str | None, default: int | None) -> int | None:
    try:
        number = int(text) if text not in (None, "") else default
    except ValueError:
        return default
    return number if number is None or number >= 1 else default


def compose_filter(column: str, operator: str, value: str | None) -> str | None:
    """The `column:operator:value` form of the rows API, or None when incomplete."""
    if not column or operator not in OPERATORS:
        return None
    if operator in VALUELESS:
        return f"{column}:{operator}"
    if value is None or value == "":
        return None
    return f"{column}:{operator}:{value}"


@dataclass(frozen=True)
class TableQuery:
    page: int = 1
    sort: str | None = None
    order: str = "asc"
    q: str = ""
    filters: tuple[str, ...] = field(default_factory=tuple)
    version: int | None = None

    @classmethod
    def from_args(cls, args) -> TableQuery:
        """Read request.args (or a form); a new filter may come as fcol/fop/fval fields."""
        filters = [f for f in args.getlist("filter") if f][:MAX_FILTERS]
        new = compose_filter(args.get("fcol", ""), args.get("fop", ""), args.get("fval"))
        if new and new not in filters and len(filters) < MAX_FILTERS:
            filters.append(new)
        order = args.get("order", "asc")
        return cls(
            page=_positive_int(args.get("page"), 1),
            sort=args.get("sort") or None,
            order=order if order in ("asc", "desc") else "asc",
            q=(args.get("q") or "").strip()[:MAX_SEARCH],
            filters=tuple(filters),
            version=_positive_int(args.get("version"), None),
        )

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def rows_query(self) -> dict:
        """Keyword arguments of service.rows."""
        return {"offset": self.offset, "limit": PAGE_SIZE, "sort": self.sort, "order": self.order,
                "q": self.q or None, "filters": list(self.filters)}

    def args(self, **changes) -> dict:
        """url_for arguments of this state with `changes`; defaults are left out."""
        state = replace(self, **changes)
        out: dict = {}
        if state.page != 1:
            out["page"] = state.page
        if state.sort:
            out["sort"] = state.sort
            out["order"] = state.order
        if state.q:
            out["q"] = state.q
        if state.filters:
            out["filter"] = list(state.filters)
        if state.version is not None:
            out["version"] = state.version
        return out

    def sorted_by(self, column: str) -> dict:
        """Arguments of a click on a column header: ascending first, then toggle."""
        order = "desc" if self.sort == column and self.order == "asc" else "asc"
        return self.args(sort=column, order=order, page=1)

    def without_filter(self, spec: str) -> dict:
        return self.args(filters=tuple(f for f in self.filters if f != spec), page=1)


def describe_filter(spec: str, columns: list[str]) -> str:
    """A filter in words for its chip ("age ≥ 30"); unknown shapes are shown as written."""
    for column in sorted(columns, key=len, reverse=True):
        if spec.startswith(column + ":"):
            op, _, value = spec[len(column) + 1:].partition(":")
            if op in FILTER_LABELS:
                return f"{column} {FILTER_LABELS[op]} {value}".strip()
    return spec
