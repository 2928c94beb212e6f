"""Guess the delimiter, quote and escape characters from a sample of the text.

Each candidate dialect parses the sample; it scores by how regular the rows are (the
CleverCSV pattern score: many rows of one width, wide rows weigh more) times how many cells
look like a value of a known type (number, date, time, URL, word...). Parsing with the wrong
delimiter gives ragged rows; with the wrong quote it gives cells like `"abc` that fit no type.

The score sees rows, not their roles: with `a,b` over rows `w;z,w;z`, `;` wins (three typed
fields per row) by calling the header line a title. So a winner whose first line is off its
width loses to a delimiter that splits every line, header included, into one width, with a
first line that reads as names.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass

from .cells import is_known_type, looks_numeric

DELIMITERS = [",", ";", "\t", "|", " "]
QUOTES = ['"', "'", ""]
MAX_SNIFF_CHARS = 64_000
MAX_SNIFF_ROWS = 200


@dataclass
class CsvFormat:
    delimiter: str = ","
    quotechar: str = '"'
    escapechar: str | None = None
    skipinitialspace: bool = False

    def reader(self, lines, strict: bool = False):
        """A `csv.reader` for this format over an iterable of lines."""
        return csv.reader(lines, **self.csv_kwargs())

    def csv_kwargs(self) -> dict:
        return {
            "delimiter": self.delimiter,
            "quotechar": self.quotechar or None,
            "quoting": csv.QUOTE_MINIMAL if self.quotechar else csv.QUOTE_NONE,
            "escapechar": self.escapechar,
            "doublequote": True,
            "skipinitialspace": self.skipinitialspace,
            "strict": False,
        }


def sniff_format(sample: str, delimiter: str | None = None) -> CsvFormat:
    """The best-scoring format for `sample` (complete lines only); `delimiter` if forced."""
    sample = sample[:MAX_SNIFF_CHARS]
    delimiters = [delimiter] if delimiter else [d for d in DELIMITERS if d in sample]
    if not delimiters:
        delimiters = [","]
    quotes = [q for q in QUOTES if q != "'" or q in sample]
    best: tuple[tuple[float, int], CsvFormat] | None = None
    scored: list[tuple[tuple[float, int], CsvFormat]] = []
    for di, delim in enumerate(delimiters):
        for qi, quote in enumerate(quotes):
            # a backslash escape is a candidate only where backslash-quote pairs occur
            escapes = [None, "\\"] if quote and "\\" + quote in sample else [None]
            for escape in escapes:
                fmt = CsvFormat(delim, quote, escape)
                # ties go to the more common choice: earlier delimiter, '"'; and to the
                # backslash escape when the sample has backslash-quote pairs
                key = (round(_score(sample, fmt), 9), -(di * 10 + qi * 2 + (escape is None)))
                scored.append((key, fmt))
                if best is None or key > best[0]:
                    best = (key, fmt)
    fmt = best[1] if best else CsvFormat()
    if best and not delimiter:
        fmt = _header_consistent(sample, fmt, scored) or fmt
    fmt.skipinitialspace = _spaces_after_delimiter(sample, fmt)
    return fmt


def _parse(sample: str, fmt: CsvFormat) -> list[list[str]]:
    rows = []
    try:
        for row in fmt.reader(io.StringIO(sample, newline="")):
            if row:
                rows.append(row)
            if len(rows) >= MAX_SNIFF_ROWS:
                break
    except csv.Error:
        return rows
    return rows


def _score(sample: str, fmt: CsvFormat) -> float:
    rows = _parse(sample, fmt)
    if not rows:
        return 0.0
    widths = Counter(len(r) for r in rows)
    pattern = sum(n * (w - 1) / w for w, n in widths.items()) / len(widths)
    cells = [c for r in rows for c in r]
    typed = sum(is_known_type(c, fmt.delimiter) for c in cells) / len(cells)
    return pattern * max(typed, 1e-3)


def _spaces_after_delimiter(sample: str, fmt: CsvFormat) -> bool:
    """A `, ` separated file: nearly every field after the first starts with one space."""
    if fmt.delimiter == " ":
        return False
    rows = _parse(sample, fmt)[:50]
    later = [c for r in rows for c in r[1:] if c]
    return len(later) >= 3 and sum(c.startswith(" ") for c in later) >= 0.9 * len(later)


def _header_consistent(sample: str, fmt: CsvFormat, scored) -> CsvFormat | None:
    """A delimiter under which the first line and all rows share one width, when `fmt`
    needs the first line to be a preamble (a different width) for its rows to agree."""
    rows = _parse(sample, fmt)
    if len(rows) < 3 or len(rows[0]) == _modal(rows[1:]):
        return None
    for _, other in sorted(scored, key=lambda s: s[0], reverse=True):
        if other.delimiter == fmt.delimiter:
            continue
        alt = _parse(sample, other)
        width = len(alt[0]) if alt else 0
        if width >= 2 and len(alt) == len(rows) and all(len(r) == width for r in alt) \
                and _reads_as_names(alt[0], other.delimiter):
            return other
    return None


def _modal(rows: list[list[str]]) -> int:
    return Counter(len(r) for r in rows).most_common(1)[0][0] if rows else 0


def _reads_as_names(cells: list[str], delimiter: str) -> bool:
    """Distinct, non-empty, typed (word or code) cells, none a number: a header."""
    names = [c.strip() for c in cells]
    return (all(names) and len(set(names)) == len(names)
            and all(is_known_type(c, delimiter) and not looks_numeric(c) for c in names))
