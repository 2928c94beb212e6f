"""The careful reader: records with their line numbers, bad rows repaired or skipped.

A record whose width differs from the header's is repaired only when one reading of it fits
the columns clearly better than every other (judged against the shapes of values in the
well-formed rows): a stray quote taken literally, an extra empty field or split value
dropped/joined, a lost delimiter put back, missing trailing fields padded. Otherwise the row is
skipped. Either way it is counted in `Repairs`, never shifted silently.
"""

from __future__ import annotations

import csv
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass

from .cells import MISSING, looks_numeric, shape
from .errors import CellTooLarge
from .model import Repairs
from .sniff import CsvFormat

SENTINEL = "\x01"  # control characters were removed upstream, so this never occurs in data
MAX_SPLIT_CELL = 60
QUOTE_BONUS = 0.5


@dataclass
class Record:
    line: int  # 1-based physical line where the record starts
    fields: list[str]
    n_lines: int


class RecordStream:
    """Physical lines in, records out; bad records can give back lines they swallowed."""

    def __init__(self, lines: Iterator[str], fmt: CsvFormat, max_cell: int, first_line: int = 1):
        self._lines = lines
        self._pushback: deque[str] = deque()
        self._consumed: list[str] = []
        self._next_line = first_line
        self.fmt = fmt
        self.max_cell = max_cell
        csv.field_size_limit(max(max_cell + 1, 1024))
        self._reader = fmt.reader(self._feed())

    def _feed(self) -> Iterator[str]:
        while True:
            if self._pushback:
                line = self._pushback.popleft()
            else:
                line = next(self._lines, None)
                if line is None:
                    return
            self._consumed.append(line)
            yield line

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        self._consumed = []
        start = self._next_line
        try:
            fields = next(self._reader)
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise CellTooLarge(
                    f"line {start}: a cell is longer than {self.max_cell:,} bytes "
                    "(often a quote that never closes)",
                    line=start,
                ) from None
            raise
        lines = list(self._consumed)
        self._next_line = start + len(lines)
        return Record(start, fields, len(lines)) if lines else self.__next__()

    def raw_lines(self) -> list[str]:
        return list(self._consumed)

    def give_back(self, lines: list[str], n_kept: int) -> None:
        """Only the first `n_kept` physical lines belong to the current record."""
        self._pushback.extendleft(reversed(lines[n_kept:]))
        self._next_line -= len(lines) - n_kept


class Repairer:
    """Chooses a repair for a record of the wrong width, if exactly one fits well."""

    def __init__(self, fmt: CsvFormat, width: int, profile: list[Counter]):
        self.fmt = fmt
        self.width = width
        self.profile = profile
        self.total = [sum(col.values()) or 1 for col in profile]
        self.numeric = [_share(col, lambda s: looks_numeric(_example(s))) >= 0.9 for col in profile]
        # a free-text column: almost every value has its own shape
        self.diverse = [len(col) > 0.3 * total for col, total in zip(profile, self.total, strict=True)]

    def fit(self, cells: list[str]) -> float:
        """How well a candidate row matches the columns (1 per cell at best)."""
        score = 0.0
        for j, cell in enumerate(cells):
            col = self.profile[j]
            s = shape(cell)
            if col[s] >= max(1, 0.02 * self.total[j]):
                score += 1
            elif s and looks_numeric(cell) == self.numeric[j]:
                score += 0.9 if self.diverse[j] and not self.numeric[j] else 0.4
        return score

    def repair(self, fields: list[str], raw_lines: list[str]) -> tuple[list[str], int] | None:
        """(fields, physical lines used) of the only good repair, or None."""
        # readings that follow the quoting of the line get a head start over arbitrary
        # joins and splits, which free-text columns would otherwise accept just as well
        candidates = [(c, used, QUOTE_BONUS) for c, used in self._literal_quote(raw_lines)]
        if len(fields) > self.width:
            candidates += [(c, len(raw_lines), 0.0) for c in self._fewer(fields)]
        elif len(fields) < self.width:
            candidates += [(c, len(raw_lines), 0.0) for c in self._more(fields)]
        scored = sorted(
            ((self.fit(c), bonus, -used, c, used) for c, used, bonus in candidates
             if len(c) == self.width),
            key=lambda t: (t[0] + t[1], t[2]),
            reverse=True,
        )
        if not scored:
            return None
        best = scored[0]
        if best[0] < self.width - 0.6 - 0.1 * self.width:
            return None
        # another reading that fits almost as well but puts values in other columns: ambiguous
        layout = [shape(c) for c in best[3]]
        for rival in scored[1:]:
            if rival[0] + rival[1] > best[0] + best[1] - 0.3 and [shape(c) for c in rival[3]] != layout:
                return None
        return best[3], best[4]

    def _literal_quote(self, raw_lines: list[str]) -> list[tuple[list[str], int]]:
        first = raw_lines[0] if raw_lines else ""
        out = [(cells, 1) for cells in literal_quote_readings(self.fmt, first, self.width)]
        if self.fmt.quotechar and self.fmt.quotechar in first:
            lenient = lenient_reading(self.fmt, first)
            if len(lenient) == self.width and all(lenient != cells for cells, _ in out):
                out.append((lenient, 1))
        return out

    def _fewer(self, fields: list[str]) -> list[list[str]]:
        extra = len(fields) - self.width
        if extra != 1:
            return [fields[: self.width]] if all(not c.strip() for c in fields[self.width:]) else []
        out = []
        for i, cell in enumerate(fields):
            if not cell.strip():
                out.append(fields[:i] + fields[i + 1:])
            if i + 1 < len(fields):
                joined = cell + self.fmt.delimiter + fields[i + 1]
                out.append([*fields[:i], joined, *fields[i + 2:]])
        return out

    def _more(self, fields: list[str]) -> list[list[str]]:
        missing = self.width - len(fields)
        out = [fields + [""] * missing]
        if missing == 1:
            for i, cell in enumerate(fields):
                if len(cell) > MAX_SPLIT_CELL:
                    continue
                for k in range(1, len(cell)):
                    out.append([*fields[:i], cell[:k], cell[k:], *fields[i + 1:]])
                out.append([*fields[:i], "", cell, *fields[i + 1:]])
        return out


def literal_quote_readings(fmt: CsvFormat, line: str, width: int) -> list[list[str]]:
    """Readings of one physical line of `width` fields with one quote taken as a plain char."""
    quote = fmt.quotechar
    if not quote or quote not in line:
        return []
    out = []
    for pos in [i for i, ch in enumerate(line) if ch == quote][:30]:
        try:
            rows = list(fmt.reader([line[:pos] + SENTINEL + line[pos + 1:]]))
        except csv.Error:
            continue
        if len(rows) == 1 and len(rows[0]) == width:
            out.append([c.replace(SENTINEL, quote) for c in rows[0]])
    return out


def lenient_reading(fmt: CsvFormat, line: str) -> list[str]:
    """Split one physical line the forgiving way: a quote opens a field only at its start and
    closes it only right before a delimiter or the end of the line (so `'Men's'` is one value)."""
    line = line.rstrip("\r\n")
    quote, delim = fmt.quotechar, fmt.delimiter
    fields, i, n = [], 0, len(line)
    while True:
        if fmt.skipinitialspace:
            while i < n and line[i] == " ":
                i += 1
        if quote and i < n and line[i] == quote:
            end = i + 1
            while True:
                end = line.find(quote, end)
                if end < 0:
                    return [*fields, line[i:]]
                if end + 1 == n or line[end + 1] == delim:
                    break
                end += 1
            value = line[i + 1:end]
            fields.append(value.replace(quote + quote, quote))
            i = end + 1
        else:
            end = line.find(delim, i)
            end = n if end < 0 else end
            fields.append(line[i:end])
            i = end
        if i >= n:
            return fields
        i += 1  # skip the delimiter
        if i == n:
            return [*fields, ""]


def repair_header(fields: list[str], first_line: str, fmt: CsvFormat, width: int) -> list[str] | None:
    """The header row when it alone has the wrong width: stray quote, extra or lost delimiter."""
    readings = literal_quote_readings(fmt, first_line, width)
    if len(readings) == 1:
        return readings[0]
    if len(fields) == width + 1:
        empty = [i for i, c in enumerate(fields) if not c.strip()]
        if len(empty) == 1:
            return fields[: empty[0]] + fields[empty[0] + 1:]
    if len(fields) == width - 1:
        return [*fields, ""]
    if len(fields) < width and fmt.delimiter != " ":
        spaced = next(CsvFormat(" ", fmt.quotechar).reader([first_line.strip()]), [])
        if len(spaced) == width:
            return spaced
    return None


def _share(col: Counter, test) -> float:
    filled = {s: n for s, n in col.items() if s}
    return sum(n for s, n in filled.items() if test(s)) / max(1, sum(filled.values()))


def _example(s: str) -> str:
    return s.replace("9", "1").replace("a", "x")


def _stray_quote(repairer: Repairer, raw: list[str]) -> bool:
    """A multi-line record that is really one row with a stray quote, then normal rows."""
    fmt, width = repairer.fmt, repairer.width
    if not fmt.quotechar or fmt.quotechar not in raw[0]:
        return False
    readings = literal_quote_readings(fmt, raw[0], width)
    if len(readings) != 1 or repairer.fit(readings[0]) < width - 0.6 - 0.1 * width:
        return False
    try:
        rest = list(fmt.reader(raw[1:]))
    except csv.Error:
        return False
    return bool(rest) and all(len(r) == width for r in rest if r)


def is_blank(fields: list[str]) -> bool:
    """An empty line (a row of empty fields at full width is a row of missing values)."""
    return not fields or (len(fields) == 1 and not fields[0].strip())


class HeaderEcho:
    """Spots a row that repeats most header names: the start of another table."""

    def __init__(self, header: list[str] | None):
        self.names = {h.strip().lower() for h in header or [] if h.strip() and h.strip() not in MISSING}

    def __call__(self, fields: list[str]) -> bool:
        names = self.names
        if len(names) < 2:
            return False
        # cheap test first: nearly every row fails here
        if fields[0].strip().lower() not in names:
            return False
        cells = [c.strip().lower() for c in fields if c.strip()]
        hits = sum(1 for c in cells if c in names)
        return len(cells) >= 2 and hits >= 0.6 * len(cells) and hits >= 0.5 * len(names)


def read_body(stream: RecordStream, repairer: Repairer, header: list[str] | None,
              repairs: Repairs, sink, notes: dict) -> None:
    """Feed every body record to `sink(fields)`, repairing or skipping bad ones."""
    width = repairer.width
    echoes_header = HeaderEcho(header)
    trailing_bad: list[int] = []
    for record in stream:
        fields = record.fields
        if is_blank(fields):
            continue
        if echoes_header(fields):
            notes["second_table_line"] = record.line
            break
        raw = stream.raw_lines()
        if len(fields) == width and (record.n_lines == 1 or not _stray_quote(repairer, raw)):
            sink(fields)
            trailing_bad.clear()
            continue
        if len(fields) == width:  # a stray quote swallowed whole rows but the width matched
            fields = []
        fixed = repairer.repair(fields, raw)
        if fixed is not None:
            cells, used = fixed
            if used < len(raw):
                stream.give_back(raw, used)
            sink(cells)
            repairs.note(record.line, repaired=True)
            trailing_bad.clear()
            continue
        if len(raw) > 1 and repairer.fmt.quotechar and repairer.fmt.quotechar in raw[0]:
            stream.give_back(raw, 1)  # a stray quote swallowed the next lines: read them again
        repairs.note(record.line, repaired=False)
        trailing_bad.append(record.line)
    # a few unreadable lines at the very end are footnotes, not broken rows
    if trailing_bad and len(trailing_bad) <= 5:
        for line in trailing_bad:
            repairs.rows_skipped -= 1
            if line in repairs.lines:
                repairs.lines.remove(line)
        notes["footnote_lines"] = len(trailing_bad)
