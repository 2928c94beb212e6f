"""Where the table sits in the file: preamble lines, header row(s), width, number format.

Decided on the first records (already split with the sniffed format):
- width: the most common number of fields;
- preamble: leading records of another width, or nearly empty (a title, a blank `,,,,` line);
- header: the first remaining record is a header when, in a column whose body values share a
  type (numbers, dates, codes...), it does not look like them; with no such column, when its
  cells are all distinct non-empty non-numbers never repeated in the body. Further
  header-looking records right after it (odd in a column of numbers, dates or codes) make
  a multi-row header, joined with spaces.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from .cells import MISSING, looks_numeric, shape

_DEC_COMMA = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+$")
_DEC_POINT = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)\.\d+$")
_GROUP_DOT = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$")
_GROUP_COMMA = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_AMBIGUOUS = re.compile(r"^[+-]?\d{1,3}[.,]\d{3}$")


PROFILE_ROWS = 400
TYPED_ROWS = 150


@dataclass
class Layout:
    width: int
    preamble: int  # records before the header
    header_rows: int  # 0 when the file has no header
    profile: list[Counter] = field(default_factory=list)


def detect_layout(records: list[list[str]], header: bool | None = None) -> Layout:
    """Find preamble and header rows in the first records of a file."""
    if not records:
        return Layout(0, 0, 0)
    width = _modal_width(records)
    start = 0
    while start < len(records) - 1 and _is_preamble(records[start], width):
        start += 1
    body_from = start + 1
    typed = _typed_columns(records[start + 1:], width)
    if header is False:
        n_header = 0
    elif header is True:
        n_header = 1
    else:
        n_header = 1 if _looks_like_header(records[start], records[start + 1:], width, typed) else 0
    if n_header:
        # a second header row (units, a split name) stands over numbers, dates or codes; a
        # row odd only in letter-and-punctuation columns is more likely an odd data row
        digit_typed = [(j, s) for j, s in typed if "9" in s.most_common(1)[0][0]]
        while (
            header is not False
            and n_header < 4
            and digit_typed
            and start + n_header < len(records) - 1
            and len(records[start + n_header]) == width
            and _looks_like_header(records[start + n_header], records[start + n_header + 1:], width,
                                   digit_typed)
        ):
            n_header += 1
        body_from = start + n_header
    else:
        body_from = start
    profile = column_profile(records[body_from:], width)
    return Layout(width, start, n_header, profile)


def _modal_width(records: list[list[str]]) -> int:
    counts = Counter(len(r) for r in records if sum(1 for c in r if c.strip()) >= 1)
    if not counts:
        return max(len(r) for r in records)
    top = max(counts.values())
    return max(w for w, n in counts.items() if n == top)


def _is_preamble(record: list[str], width: int) -> bool:
    filled = sum(1 for c in record if c.strip())
    if len(record) != width:
        return True
    return width >= 3 and filled <= 1


def column_profile(body: list[list[str]], width: int) -> list[Counter]:
    """Per column, how often each value shape occurs in well-formed rows."""
    profile = [Counter() for _ in range(width)]
    for record in body[:PROFILE_ROWS]:
        if len(record) == width:
            for j, cell in enumerate(record):
                profile[j][shape(cell)] += 1
    return profile


def _typed_columns(body: list[list[str]], width: int) -> list[tuple[int, Counter]]:
    """Columns whose body values share a type or a few shapes (numbers, dates, codes)."""
    rows = [r for r in body[:TYPED_ROWS] if len(r) == width]
    if not rows:
        return []
    typed = []
    for j in range(width):
        shapes = Counter(shape(r[j]) for r in rows if r[j].strip() not in MISSING)
        total = sum(shapes.values())
        if total < 2:
            continue
        numeric = sum(1 for r in rows if looks_numeric(r[j]))
        top = shapes.most_common(3)
        if numeric >= 0.9 * total or (sum(n for _, n in top) >= 0.9 * total and top[0][0] != "<text>"):
            typed.append((j, shapes))
    return typed


def _looks_like_header(first: list[str], body: list[list[str]], width: int,
                       typed: list[tuple[int, Counter]] | None = None) -> bool:
    if len(first) != width:
        return False
    cells = [c.strip() for c in first]
    if any(looks_numeric(c) for c in cells if c):
        return False
    if typed is None:
        typed = _typed_columns(body, width)
    if typed:
        misfits = 0
        for j, shapes in typed:
            cell = cells[j]
            if cell and cell not in MISSING and shapes[shape(cell)] <= max(1, 0.05 * sum(shapes.values())):
                misfits += 1
        return misfits >= max(1, len(typed) // 2)
    filled = [c for c in cells if c]
    if len(filled) < max(1, width - 1) or len(set(filled)) != len(filled):
        return False
    seen = {c.strip() for r in body[:200] for c in r}
    return not any(c in seen for c in filled)


def detect_number_format(body: list[list[str]], delimiter: str) -> tuple[str, str | None]:
    """Decimal separator and thousands separator most cells agree on."""
    comma = point = group_dot = group_comma = 0
    for record in body[:1000]:
        for cell in record:
            cell = cell.strip()
            if not cell or not cell[-1].isdigit():
                continue
            if _AMBIGUOUS.match(cell):
                continue
            if _DEC_COMMA.match(cell):
                comma += 1
            elif _DEC_POINT.match(cell):
                point += 1
            if _GROUP_DOT.match(cell):
                group_dot += 1
            if _GROUP_COMMA.match(cell):
                group_comma += 1
    decimal = "," if comma > point else "."
    group = group_dot if decimal == "," else group_comma
    thousands = ("." if decimal == "," else ",") if group else None
    return decimal, thousands
