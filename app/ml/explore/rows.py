"""One page of a dataset version for the table view, read from the Parquet file by DuckDB.

Two steps keep a page cheap on a million rows: first find the positions of the page's rows
reading only the columns the sort and filters need (a top-N, not a full sort, for early pages),
then read all columns of just those rows. Nothing is loaded per request beyond that.
"""

# ruff: noqa: S608 -- SQL text is built only from quoted identifiers (ident) and ints; values are bound.
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from app.ml.explore.dataset_file import duck, ident, json_value, layout, sql_path
from app.ml.explore.errors import InvalidQuery
from app.ml.explore.predicates import filter_sql, search_sql, value_sql

MAX_LIMIT = 1000
FETCH_THREADS = 2
ROW_KEY = "_row"


def query_rows(
    path: str | os.PathLike,
    *,
    offset: int = 0,
    limit: int = 50,
    sort: str | None = None,
    order: str = "asc",
    q: str | None = None,
    filters=(),
) -> dict:
    """{total, offset, limit, columns, rows}; each row also has "_row", its position in the file.

    `total` counts the rows left after `q` and `filters`; missing values sort last in both orders,
    ties keep file order.
    """
    lay = layout(path)
    _check_page(offset, limit, sort, order, lay.columns)
    if isinstance(filters, str):
        filters = [filters]
    conds, params = filter_sql(list(filters or ()), lay)
    if q is not None and q.strip():
        cond, p = search_sql(q.strip(), lay)
        conds.append(cond)
        params.extend(p)
    src = f"read_parquet({sql_path(path)}, file_row_number = true)"
    con = duck()
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    direction = "DESC" if order == "desc" else "ASC"
    order_by = "file_row_number"
    if sort is not None:
        order_by = f"__key {direction} NULLS LAST, file_row_number"

    if not conds and sort is None:
        total = lay.n_rows
        positions = list(range(offset, min(offset + limit, total)))
    elif not conds:
        total = lay.n_rows
        positions = _column(
            con.sql(
                f"SELECT file_row_number FROM (SELECT file_row_number, {value_sql(lay, sort)} AS __key "
                f"FROM {src}) ORDER BY {order_by} LIMIT {int(limit)} OFFSET {int(offset)}"
            ).to_arrow_table()
        )
    else:
        # One scan for both the count and the page: keep the matching positions (and sort key).
        key = f", {value_sql(lay, sort)} AS __key" if sort is not None else ""
        matches = con.sql(
            f"SELECT file_row_number{key} FROM {src}{where}", params=params
        ).to_arrow_table()
        total = matches.num_rows
        # Ordered even without a sort column: a filtered parallel scan may return any order.
        con.register("__matches", matches)
        positions = _column(
            con.sql(
                f"SELECT file_row_number FROM __matches ORDER BY {order_by} "
                f"LIMIT {int(limit)} OFFSET {int(offset)}"
            ).to_arrow_table()
        )
        con.unregister("__matches")
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "columns": list(lay.columns),
        "rows": _fetch(src, lay, positions),
    }


def _check_page(offset, limit, sort, order, columns) -> None:
    errors = {}
    if not isinstance(offset, int) or offset < 0:
        errors["offset"] = ["Must be a whole number, 0 or more."]
    if not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        errors["limit"] = [f"Must be a whole number between 0 and {MAX_LIMIT}."]
    if sort is not None and sort not in columns:
        errors["sort"] = [f"Unknown column {sort!r}."]
    if order not in ("asc", "desc"):
        errors["order"] = ["Must be asc or desc."]
    if errors:
        raise InvalidQuery("Invalid page request: " + "; ".join(errors), errors)


def _column(table: pa.Table) -> list[int]:
    return table.column(0).to_pylist() if table.num_rows else []


def _fetch(src: str, lay, positions: list[int]) -> list[dict]:
    """All columns of the rows at `positions`, returned in the order of `positions`.

    Scattered rows make DuckDB decompress most pages of each column, and it reads one row
    group with one thread: the columns are split between FETCH_THREADS queries that run at once.
    """
    if not positions:
        return []
    lo, hi = min(positions), max(positions)
    wanted = ", ".join(str(int(p)) for p in positions)
    where = f"file_row_number BETWEEN {int(lo)} AND {int(hi)} AND file_row_number IN ({wanted})"
    columns = list(lay.columns)
    groups = (
        [columns[i::FETCH_THREADS] for i in range(FETCH_THREADS)] if len(columns) > 4 else [columns]
    )

    def read(group: list[str]) -> dict[int, tuple]:
        select = ", ".join(ident(c) for c in group)
        rows = (
            duck().execute(f"SELECT file_row_number, {select} FROM {src} WHERE {where}").fetchall()
        )
        return {row[0]: row[1:] for row in rows}

    if len(groups) == 1:
        parts = [read(groups[0])]
    else:
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            parts = list(pool.map(read, groups))
    out = []
    for p in positions:
        record = {}
        for group, part in zip(groups, parts, strict=True):
            record.update(zip(group, part[p], strict=True))
        out.append({**{c: json_value(record[c]) for c in columns}, ROW_KEY: p})
    return out
