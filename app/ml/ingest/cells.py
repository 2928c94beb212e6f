"""Small per-cell tests shared by the dialect sniffer, the layout detector and row repair."""

from __future__ import annotations

import re

_NUMBER = r"[+-]?(?:\d+|\d{1,3}(?:[,. '\u00a0]\d{3})+)(?:[.,]\d+)?(?:[eE][+-]?\d+)?"
KNOWN_TYPES = [
    re.compile(rf"^{_NUMBER}%?$"),
    re.compile(r"^[+-]?[.,]\d+$"),
    re.compile(rf"^[$€£¥]\s?{_NUMBER}$|^{_NUMBER}\s?[$€£¥]$"),
    re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"),
    re.compile(r"^\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp][Mm])?$"),
    re.compile(r"^(?:https?|ftp)://[^\s]+$"),
    re.compile(r"^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$"),
    re.compile(r"^(?:NA|N/A|n/a|NaN|nan|null|NULL|None|-|true|false|TRUE|FALSE|True|False)$"),
    re.compile(r"^[A-Za-z0-9_#]+(?:[-/.][A-Za-z0-9_]+)*$"),
]
WORDS = re.compile("^[^\\W\\d_][\\w'\u2019&().\\-/]*(?: [\\w'\u2019&().\\-/,!?:]+)*[.!?]?$")
NUMERIC = re.compile(rf"^[$€£¥]?{_NUMBER}%?$|^[+-]?(?:inf|infinity|nan)$", re.I)
MISSING = frozenset(
    ["", "NA", "N/A", "n/a", "na", "#N/A", "NaN", "nan", "NAN", "null", "NULL", "Null",
     "None", "NONE", "none", "-"]
)


def is_known_type(cell: str, delimiter: str) -> bool:
    """CleverCSV's idea: a correct dialect yields cells that look like values of a type."""
    cell = cell.strip()
    if not cell:
        return True
    for pattern in KNOWN_TYPES:
        if pattern.match(cell):
            return True
    return bool(delimiter not in cell and WORDS.match(cell))


_SHAPE_TABLE = str.maketrans(
    {**{c: "9" for c in "0123456789"}}
)


def shape(cell: str) -> str:
    """A coarse signature of a value: digits as 9, letters as a, runs collapsed."""
    cell = cell.strip()
    if cell in MISSING:
        return ""
    if len(cell) > 40:
        return "<text>"
    out = []
    last = ""
    for ch in cell:
        cls = "9" if ch.isdigit() else "a" if ch.isalpha() else " " if ch.isspace() else ch
        if cls != last or cls not in "9a ":
            out.append(cls)
        last = cls
    return "".join(out)


def looks_numeric(cell: str) -> bool:
    return bool(NUMERIC.match(cell.strip()))
