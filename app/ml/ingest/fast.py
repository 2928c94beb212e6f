"""The fast reader for large files: pyarrow's CSV parser with the detected options.

It gives up (returns None, and the careful reader takes over) as soon as anything needs the
careful reader's judgement: a row of the wrong width, a cell over the size limit (to name its
line), or a second table repeating the header.
"""

from __future__ import annotations

import copy
import mmap
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from app.ml.kinds import MISSING_MARKERS

NEVER = "\x00"
BLOCK = 1 << 20  # pyarrow's default; each parsing thread holds a block or two  # control characters were removed, so no cell reads as a boolean


def _is_text(col) -> bool:
    return pa.types.is_string(col.type) or pa.types.is_large_string(col.type)


def _read_typed(path, read_options, parse_options, convert_options) -> pa.Table:
    """read_csv with each column's type taken from the first block, then without if one fails.

    A column whose type pyarrow must infer keeps every parsed block until it has seen them all
    (the whole file again in memory, converted a second time); typed columns are converted
    block by block. A value that does not fit the first block's types is a conversion error:
    the file is then read with inference, as before, so the table is always what inference
    over the whole file gives (the first block's types fit every value, and each type pyarrow
    tries before them failed on that block).
    """
    schema = _first_block_schema(path, read_options, parse_options, convert_options({}))
    types = {f.name: f.type for f in schema if not pa.types.is_null(f.type)}
    try:
        return pacsv.read_csv(path, read_options, parse_options, convert_options(types))
    except pa.ArrowInvalid:
        return pacsv.read_csv(path, read_options, parse_options, convert_options({}))


def _first_block_schema(path, read_options, parse_options, convert_options) -> pa.Schema:
    """The types pyarrow infers from the file's first block, parsed from that block alone.

    A streaming reader over the whole file (`open_csv`) reads blocks ahead in the background,
    and they stayed allocated for a while after it was closed: ~60 MB on the 160 MB benchmark
    file, on top of the table read next. When the first block does not end with whole rows
    (a quoted line break across the cut) the streaming reader gives the answer instead.
    """
    with open(path, "rb") as fh:
        head = fh.read(read_options.block_size)
        whole = not fh.read(1)
    if not whole:
        head = head[: head.rfind(b"\n") + 1]
    if head:
        strict = pacsv.ParseOptions(
            delimiter=parse_options.delimiter, quote_char=parse_options.quote_char,
            escape_char=parse_options.escape_char, double_quote=parse_options.double_quote,
            newlines_in_values=parse_options.newlines_in_values,
            ignore_empty_lines=parse_options.ignore_empty_lines)  # no handler: a cut row raises
        one_block = copy.copy(read_options)
        one_block.use_threads = False  # and no read-ahead threads still freeing after it returns
        try:
            return pacsv.read_csv(pa.BufferReader(head), one_block, strict, convert_options).schema
        except pa.ArrowInvalid:
            pass
    with pacsv.open_csv(path, read_options, parse_options, convert_options) as first:
        return first.schema


SCAN_CHUNK = 1 << 20


def _marks_in_body(path: str, plan) -> bool:
    """Whether a quote or escape character occurs after the header lines (or it cannot tell).

    Without one, no value holds a line break, and pyarrow can cut the file into blocks at line
    ends instead of lexing it for quotes first (about a fifth of the parse's CPU); the table is
    the same. The file is searched in place (a memory map, memchr): some 10 ms on 160 MB,
    where reading it in 1 MB pieces copied all of it."""
    marks = [c.encode() for c in (plan.fmt.quotechar, plan.fmt.escapechar) if c]
    if not marks:
        return False
    if any(len(m) != 1 for m in marks):
        return True
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            head = data[:SCAN_CHUNK]
            if head.count(b"\r") != head.count(b"\r\n"):
                return True  # lone CR line ends: the header's lines are not counted here
            at = 0
            for _ in range(plan.skipped_lines + plan.header_lines):
                at = head.find(b"\n", at) + 1
                if at == 0:
                    return True
            return any(data.find(m, at) >= 0 for m in marks)


def read_columns(path: str, plan, max_cell: int, notes: dict) -> list[pa.ChunkedArray] | None:
    width = plan.layout.width
    names = [f"c{i}" for i in range(width)]
    fmt = plan.fmt

    bad_rows = []

    def on_invalid(row) -> str:
        # pyarrow ignores exceptions raised here, so note the row and decide afterwards
        if row.text.strip():
            bad_rows.append(row.number)
        return "skip"

    read_options = pacsv.ReadOptions(
        skip_rows=plan.skipped_lines + plan.header_lines,
        column_names=names,
        block_size=max(BLOCK, 2 * max_cell + 4096),
        use_threads=True,
    )
    parse_options = pacsv.ParseOptions(
        delimiter=fmt.delimiter,
        quote_char=fmt.quotechar or False,
        escape_char=fmt.escapechar or False,
        double_quote=True,
        newlines_in_values=_marks_in_body(path, plan),
        ignore_empty_lines=True,
        invalid_row_handler=on_invalid,
    )
    # pyarrow infers numbers and ISO timestamps while parsing (multi-threaded, as the plain
    # read_csv does); booleans stay strings to keep their spelling, and columns whose sample
    # shows zero-padded codes, very wide integers or thousands separators are read as strings
    text = {names[i]: pa.string() for i in plan.text_columns}

    def convert_options(types: dict) -> pacsv.ConvertOptions:
        return pacsv.ConvertOptions(
            column_types={**types, **text},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=MISSING_MARKERS,
            true_values=[NEVER],
            false_values=[NEVER],
            decimal_point=plan.decimal,
        )

    try:
        table = _read_typed(path, read_options, parse_options, convert_options)
    except pa.ArrowException:
        return None
    if bad_rows:
        return None
    columns = [table.column(i) for i in range(width)]
    del table
    for col in columns:
        if _is_text(col) and len(col) and (pc.max(pc.binary_length(col)).as_py() or 0) > max_cell:
            return None
    if plan.header and len(columns) >= 2 and len(columns[0]) and _is_text(columns[0]) and _is_text(columns[1]):
        same = pc.and_(pc.equal(columns[0], plan.header[0]), pc.equal(columns[1], plan.header[1]))
        if pc.any(same).as_py():
            return None
    return columns
