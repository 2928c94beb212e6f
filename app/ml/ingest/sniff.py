"""Guess the delimiter, quote and escape characters from a sample of the text.

Each candidate dialect parses the sample; it scores by how regular the rows are (the
CleverCSV pattern score: many rows of one width, wide rows weigh more) times how many cells
look like a value of a known type (number, date, time, URL, word...). Parsing with the wrong
delimiter gives ragged rows; with the wrong quote it gives cells like `"abc` that fit no type.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass

from .cells import is_known_type

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
    for di, delim in enumerate(delimiters):
        for qi, quote in enumerate(quotes):
            # a backslash escape is a candidate only where backslash-quote pairs occur
            escapes = [None, "\\"] if quote and "\\" + quote in sample else [None]
            for escape in escapes:
                fmt = CsvFormat(delim, quote, escape)
                # ties go to the more common choice: earlier delimiter, '"'; and to the
                # backslash escape when the sample has backslash-quote pairs
                key = (round(_score(sample, fmt), 9), -(di * 10 + qi * 2 + (escape is None)))
                if best is None or key > best[0]:
                    best = (key, fmt)
    fmt = best[1] if best else CsvFormat()
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
