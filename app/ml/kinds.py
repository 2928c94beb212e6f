"""Column kinds: what a column holds, decided once at ingest and stored with the data.

The rule, applied to the non-missing values of a column (after trimming spaces; the missing
markers `""`, NA, N/A, NaN, null, None, `-` and their case variants count as missing):

- `integer`: every value is a whole number (optional sign, thousands separators of the file)
  that fits in 64 bits and none has a leading zero (`007` is a code, kept as text). Stored as
  int64. Integers wider than 64 bits stay exact: the column is stored as strings and its kind
  is decided by the string rules below (usually `id`), with a `wide_integer` warning.
- `float`: every value is a number (decimal separator of the file, exponent allowed); `inf`,
  `-inf`, `Infinity` and overflowing values such as `1e309` become missing with a warning.
  Stored as float64.
- `datetime`: every value parses with one date(-time) format: ISO 8601 (with `T` or space,
  optional fraction and offset), d/m/Y, m/d/Y, d.m.Y, d-m-Y, Y/m/d, with `H:M[:S]`, or
  `5 Mar 2021`, `Mar 5 2021`. When d/m/Y and m/d/Y both fit, month-first wins (warning).
  Stored as timestamps.
- `boolean`: the distinct values, lower-cased, are within one pair of true/false, yes/no,
  y/n, t/f, on/off. Values keep the file's spelling (stored as strings). 0/1 stays `integer`.
- `id`: every value distinct, at least 20 of them, and either the name says id (`id`,
  `customer_id`, `userId`, `uuid`, `guid`, `key`) or the values are codes (integers counting
  up, or strings without spaces up to 64 characters mixing letters and digits).
- `text`: strings averaging 30+ characters, or mostly multi-word and mostly distinct.
- `categorical`: every other string column (stored as strings); also a column with no values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

KINDS = ("integer", "float", "boolean", "categorical", "datetime", "text", "id")
MISSING_MARKERS = [
    "", "NA", "N/A", "n/a", "na", "#N/A", "NaN", "nan", "NAN", "null", "NULL", "Null",
    "None", "NONE", "none", "-",
]
BOOLEAN_PAIRS = [
    {"true", "false"}, {"yes", "no"}, {"y", "n"}, {"t", "f"}, {"on", "off"},
]
ID_NAME = re.compile(r"(?:^|[_\s.-])(?:id|uuid|guid|key)$|^(?:id|uuid|guid)(?:[_\s.-]|$)|[a-z]Id$", re.I)
_INT = r"^[+-]?(?:0|[1-9]\d*)$"
_FLOAT = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:inf|infinity|nan)$"
_ISO = (
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
_ISO_TZ = r"(?:Z|[+-]\d{2}:?\d{2})$"
_DATE_FORMATS = [
    "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y", "%Y/%m/%d",
    "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
    "%d %b %Y", "%b %d %Y", "%d %B %Y", "%B %d %Y", "%b %d, %Y", "%B %d, %Y",
    "%d/%m/%y", "%m/%d/%y",
]


@dataclass
class Classified:
    """A column's kind, its stored values and what to tell the user."""

    kind: str
    values: pa.ChunkedArray
    date_format: str | None = None
    warnings: list[tuple[str, str]] = field(default_factory=list)
    distinct: int | None = None  # distinct non-missing values, when already counted
    # (distinct values, their counts) of a string column, when counted and not too many
    counts: tuple[pa.Array, pa.Array] | None = field(default=None, repr=False)


def clean_strings(values: pa.ChunkedArray | pa.Array, markers_nulled: bool = False) -> pa.ChunkedArray:
    """Trim spaces and turn missing markers into nulls (copying only when needed).

    `markers_nulled`: the reader already made exact markers null, so only trimmed values
    need the marker test.
    """
    values = _chunked(values)
    if pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    trimmed = any(_any(pc.match_like(values, p)) for p in (" %", "% ", "\t%", "%\t"))
    if trimmed:
        values = pc.utf8_trim_whitespace(values)
    elif markers_nulled:
        return values
    markers = pa.array(MISSING_MARKERS, type=values.type)
    is_marker = pc.is_in(values, value_set=markers)
    if _any(is_marker):
        values = pc.if_else(is_marker, pa.scalar(None, values.type), values)
    return values


def classify(values, name: str = "", decimal: str = ".", thousands: str | None = None) -> Classified:
    """Kind and typed values of a column of cleaned strings (see the module docstring).

    Arrow casts do the checking: a cast to int64 or float64 fails on the first value that does
    not fit, so a text column costs almost nothing and a numeric column one pass.
    """
    values = _chunked(values)
    if len(values) == values.null_count:
        return Classified("categorical", values)
    head = values.slice(0, 4096).drop_null().slice(0, 256)
    if _all(pc.match_substring_regex(head, _NUMBERISH, ignore_case=True)):
        typed = _numbers(values, name, decimal, thousands)
        if typed is not None:
            return typed
    if _all(pc.match_substring_regex(head, _DATEISH)):
        dated = _parse_datetimes(values)
        if dated is not None:
            return dated
    return _classify_strings(values, name)


def _numbers(values, name, decimal, thousands) -> Classified | None:
    norm = _plain_numbers(values, decimal, thousands)
    try:
        ints = pc.cast(norm, pa.int64())
    except pa.ArrowInvalid:
        ints = None
    if ints is not None:
        if _zero_padded(norm):
            return None  # codes such as 007 keep their spelling
        present = len(ints) - ints.null_count
        if present >= 20 and _strictly_increasing(ints):
            return Classified("id", ints, distinct=present)
        distinct = pc.count_distinct(ints, mode="only_valid").as_py()
        kind = "id" if _integer_id(ints, name, distinct) else "integer"
        return Classified(kind, ints, distinct=distinct)
    try:
        floats = pc.cast(norm, pa.float64())
    except pa.ArrowInvalid:
        return None
    if not _any(pc.match_substring(norm, ".")) and _all(
        pc.match_substring_regex(norm.drop_null(), _INT)
    ):
        result = _classify_strings(values, name)
        result.warnings.append(("wide_integer", "integers wider than 64 bits are kept exactly, as text"))
        return result
    return _drop_infinite(floats)


def _zero_padded(norm) -> bool:
    length = pc.utf8_length(norm)
    plain = pc.and_(pc.starts_with(norm, "0"), pc.greater(length, 1))
    signed = pc.and_(
        pc.or_(pc.starts_with(norm, "-0"), pc.starts_with(norm, "+0")), pc.greater(length, 2)
    )
    return _any(pc.or_(plain, signed))


def _chunked(values) -> pa.ChunkedArray:
    if isinstance(values, pa.ChunkedArray):
        return values
    if isinstance(values, pa.Array):
        return pa.chunked_array([values])
    return pa.chunked_array([pa.array(values, from_pandas=True)])


def _all(mask) -> bool:
    return bool(pc.all(mask).as_py())


def _any(mask) -> bool:
    return bool(pc.any(mask).as_py())


_NUMBERISH = r"^[+-]?[\d.,' ]*\d[\d.,' ]*(?:[eE][+-]?\d+)?$|^[+-]?(?:inf|infinity|nan)$"
_DATEISH = r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|^\d{1,2} [A-Za-z]{3,9} \d{4}$|^[A-Za-z]{3,9} \d{1,2},? \d{4}$"


def _plain_numbers(arr, decimal: str, thousands: str | None):
    """The column with the file's thousands and decimal separators made plain."""
    if thousands:
        grouped = pc.match_substring_regex(
            arr, rf"^[+-]?\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+(?:{re.escape(decimal)}\d+)?$"
        )
        arr = pc.if_else(grouped, pc.replace_substring(arr, thousands, ""), arr)
    if decimal != ".":
        arr = pc.replace_substring(arr, decimal, ".")
    return arr


def _drop_infinite(floats: pa.ChunkedArray) -> Classified:
    infinite = pc.is_inf(floats)
    warnings = []
    if _any(infinite):
        count = pc.sum(infinite).as_py()
        floats = pc.if_else(infinite, pa.scalar(None, pa.float64()), floats)
        warnings.append(("infinite_values", f"{count} infinite value(s) read as missing"))
    nan = pc.is_nan(floats)
    if _any(nan):
        floats = pc.if_else(nan, pa.scalar(None, pa.float64()), floats)
    return Classified("float", floats, warnings=warnings)


def _parse_datetimes(values) -> Classified | None:
    present = values  # kernels skip nulls; a format fits when it adds no nulls
    if _all(pc.match_substring_regex(present, _ISO)):
        tz = _all(pc.match_substring_regex(present, _ISO_TZ))
        if tz or not _any(pc.match_substring_regex(present, _ISO_TZ)):
            try:
                parsed = pc.cast(values, pa.timestamp("us", tz="UTC" if tz else None))
                return Classified("datetime", parsed, "ISO 8601")
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None
    fitting = []
    head = values.slice(0, 4096).drop_null().slice(0, 256)
    for fmt in _DATE_FORMATS:
        if pc.strptime(head, format=fmt, unit="us", error_is_null=True).null_count:
            continue  # cheap rejection on the first values
        parsed = pc.strptime(present, format=fmt, unit="us", error_is_null=True)
        if parsed.null_count == values.null_count:
            fitting.append(fmt)
    if not fitting:
        return None
    fmt = fitting[0]
    warnings = []
    if "%m/%d" in "".join(fitting) and "%d/%m" in "".join(fitting):
        fmt = next(f for f in fitting if f.startswith("%m"))
        warnings.append(("ambiguous_dates", "dates fit both day/month and month/day; read as month/day"))
    parsed = pc.strptime(values, format=fmt, unit="us", error_is_null=True)
    return Classified("datetime", parsed, fmt, warnings)


def _strictly_increasing(ints: pa.ChunkedArray) -> bool:
    """Whether the present values only go up (then all are distinct: an id, whatever its name),
    chunk by chunk without copying the column; a column that does not stops at its first chunk."""
    last = None
    for chunk in ints.chunks:
        if chunk.null_count:
            chunk = chunk.drop_null()
        if not len(chunk):
            continue
        a = chunk.to_numpy(zero_copy_only=False)
        if (last is not None and a[0] <= last) or not (a[1:] > a[:-1]).all():
            return False
        last = a[-1]
    return last is not None


def _integer_id(ints: pa.ChunkedArray, name: str, distinct: int | None = None) -> bool:
    n = len(ints) - ints.null_count
    if distinct is None:
        distinct = pc.count_distinct(ints, mode="only_valid").as_py()
    if n < 20 or distinct != n:
        return False
    if ID_NAME.search(name or ""):
        return True
    diffs = pc.pairwise_diff(ints.drop_null().combine_chunks())
    return bool(pc.min(diffs.slice(1)).as_py() > 0)


def _classify_strings(values, name: str) -> Classified:
    """boolean, id, text or categorical; nulls are skipped by every kernel used here.

    One hash pass (value_counts) gives the distinct count, and the length and space figures
    are taken over the distinct values weighted by their counts (the same sums as over every
    row); the counts are kept for the profile when there are few distinct values."""
    n = len(values) - values.null_count
    keys, freq = _value_counts(values)
    distinct = len(keys)
    counts = (keys, freq) if distinct <= KEEP_COUNTS else None

    def result(kind: str) -> Classified:
        return Classified(kind, values, distinct=distinct, counts=counts)

    if distinct <= 6:
        lowered = {str(v).lower() for v in keys.to_pylist()}
        if any(lowered <= pair for pair in BOOLEAN_PAIRS):
            return result("boolean")
    lengths = pc.utf8_length(keys)
    mean_len = _weighted_sum(lengths, freq) / n if n else 0
    if distinct == n and n >= 20:
        if ID_NAME.search(name or ""):
            return result("id")
        max_len = pc.max(lengths).as_py()
        codes = pc.match_substring_regex(keys, r"^[A-Za-z0-9][A-Za-z0-9_.:/#-]*$")
        mixed = pc.match_substring_regex(keys, r"\d")
        if max_len <= 64 and _all(codes) and pc.mean(pc.cast(mixed, pa.int8())).as_py() >= 0.5:
            return result("id")
    if mean_len >= 30:
        return result("text")
    spaced = _weighted_sum(pc.match_substring(keys, " "), freq) / n if n else 0
    if n >= 20 and spaced >= 0.5 and distinct >= 0.5 * n:
        return result("text")
    return result("categorical")


KEEP_COUNTS = 65_536  # distinct values whose counts a string column's result keeps


def _value_counts(values: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """The distinct non-missing values (in order of first appearance) and how often each occurs."""
    counted = pc.value_counts(values)
    keys, freq = counted.field("values"), counted.field("counts")
    if keys.null_count:
        present = pc.is_valid(keys)
        keys, freq = keys.filter(present), freq.filter(present)
    return keys, freq


def _weighted_sum(per_value: pa.Array, freq: pa.Array) -> int:
    """The sum over all rows of a per-distinct-value figure (an integer, or True counted as 1)."""
    if not len(per_value):
        return 0
    return pc.sum(pc.multiply(pc.cast(per_value, pa.int64()), freq)).as_py() or 0


def classify_typed(values: pa.ChunkedArray, name: str = "") -> Classified | None:
    """Kind of a column an Arrow reader already typed (None for strings: use `classify`)."""
    typ = values.type
    if pa.types.is_integer(typ):
        ints = pc.cast(values, pa.int64()) if typ != pa.int64() else values
        present = len(ints) - ints.null_count
        if present >= 20 and _strictly_increasing(ints):  # all distinct, no hashing needed
            return Classified("id", ints, distinct=present)
        distinct = pc.count_distinct(ints, mode="only_valid").as_py()
        return Classified("id" if _integer_id(ints, name, distinct) else "integer", ints, distinct=distinct)
    if pa.types.is_floating(typ):
        return _drop_infinite(pc.cast(values, pa.float64()))
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        tz = getattr(typ, "tz", None)
        return Classified("datetime", pc.cast(values, pa.timestamp("us", tz=tz)), "ISO 8601")
    if pa.types.is_boolean(typ):
        return Classified("boolean", values)
    if pa.types.is_null(typ):
        return Classified("categorical", pc.cast(values, pa.string()), distinct=0)
    return None


def infer_kind(values, name: str = "") -> str:
    """The kind of a column given as a pandas Series or an Arrow array (typed or strings)."""
    if hasattr(values, "name") and not name and isinstance(getattr(values, "name", None), str):
        name = values.name
    arr = _chunked(values)
    typ = arr.type
    if pa.types.is_boolean(typ):
        return "boolean"
    if pa.types.is_integer(typ):
        return "id" if _integer_id(pc.cast(arr, pa.int64()), name) else "integer"
    if pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return "float"
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        return "datetime"
    if pa.types.is_dictionary(typ):
        arr = pc.cast(arr, pa.string())
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_dictionary(typ)):
        arr = pc.cast(arr, pa.string())
    return classify(clean_strings(arr), name).kind
