"""Scoring a chunk of a batch: Arrow rows in, the model's frame, predictions and output CSV out.

Plain values only (no Flask, no database): `scored_chunks` scores a few chunks ahead in worker
threads, each chunk down to its formula-safe CSV rows, while the caller writes the previous one,
so a file of any size is scored with at most three chunks in memory, and the caller's thread
(reading the input, writing bytes, reporting progress) is never the one the others wait for.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from app.ml.explain import explain
from app.ml.export import write_csv
from app.ml.serving import MISSING, NUMERIC, InvalidInput, check_rows


class _Slow(Exception):
    """A column the vectorised path does not handle: check the chunk row by row."""


MISSING_VALUES = pa.array(sorted(MISSING), pa.string())


def _clean_text(column: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Trimmed strings with the missing markers as nulls, and the mask of missing cells."""
    if pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    trimmed = pc.utf8_trim_whitespace(column)
    missing = pc.or_(pc.is_null(column), pc.fill_null(pc.is_in(pc.utf8_lower(trimmed), value_set=MISSING_VALUES),
                                                       True))
    return pc.if_else(missing, pa.scalar(None, pa.string()), trimmed), \
        missing.to_numpy(zero_copy_only=False)


def _fast_column(column: pa.Array, feature: dict, unseen: dict, codes: dict) -> np.ndarray | pd.Series:
    """One input column as check_rows would give it, vectorised (Arrow kernels) for the usual types.

    A text column's cells are also kept in `codes` as (code per cell, distinct values), the
    missing cells coded last, for model_input."""
    kind, typ = feature["kind"], column.type
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if kind in NUMERIC:
        if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_null(typ) \
                or pa.types.is_decimal(typ):
            values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            cells, _ = _clean_text(column)
            try:  # a value that is not a number: check_rows names the row
                values = cells.cast(pa.float64()).to_numpy(zero_copy_only=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise _Slow() from exc
        else:
            raise _Slow()
        values = np.array(values, dtype="float64")
        values[~np.isfinite(values)] = np.nan
        return values
    if kind == "datetime":
        if pa.types.is_timestamp(typ):
            if typ.tz is not None:  # naive UTC, as check_rows gives it (a tz-aware stamp is UTC inside)
                column = column.cast(pa.timestamp(typ.unit))
            try:
                return pd.Series(column.to_pandas())
            except (pa.ArrowInvalid, OverflowError, ValueError) as exc:
                raise _Slow() from exc
        raise _Slow()
    if pa.types.is_integer(typ):
        column = column.cast(pa.string())
    elif not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        raise _Slow()
    code, lookup = _clean_codes(column)
    allowed = feature.get("allowed_values")
    if allowed is not None:
        new = set(lookup[:-1].tolist()) - set(allowed)
        if new:
            unseen.setdefault(feature["name"], set()).update(new)
    lookup[-1] = np.nan  # the missing cells, as check_rows gives them to the frame
    codes[feature["name"]] = (code, lookup)
    return pd.Series(lookup[code], dtype="object")  # as check_rows gives it (not pandas' inferred str)


def _text_objects(cells: pa.Array) -> np.ndarray:
    """The strings as an object array, one Python str per distinct value (not per cell).

    The same values as `cells.to_numpy(zero_copy_only=False)`, built from Arrow's dictionary
    encoding: fewer objects to create."""
    code, lookup = _text_codes(cells)
    return lookup[code]


def _clean_codes(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """_text_codes of `_clean_text(column)`, with the cleaning done once per distinct raw value.

    Trimming and the missing markers are per value, so the raw column is dictionary-encoded,
    its distinct values cleaned (values that clean alike, " a" and "a", merge) and each cell
    takes its value's new code."""
    encoded = pc.dictionary_encode(column)
    cleaned, _ = _clean_text(encoded.dictionary)
    code, lookup = _text_codes(cleaned)  # one code per raw distinct value, missing last
    to_clean = np.append(code, len(lookup) - 1)  # a null cell: missing
    raw = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False)
    return to_clean[raw], lookup


def _text_codes(cells: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(code of each cell, distinct strings then None): Arrow's dictionary encoding, nulls coded last."""
    encoded = pc.dictionary_encode(cells)
    lookup = np.empty(len(encoded.dictionary) + 1, dtype=object)
    lookup[:-1] = encoded.dictionary.to_numpy(zero_copy_only=False)
    lookup[-1] = None
    code = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False)
    return code.astype(np.intp, copy=False), lookup


def chunk_frame(batch: pa.RecordBatch | pa.Table, features: list[dict], offset: int) -> tuple[pd.DataFrame, list[str]]:
    """The model's input frame of a chunk and its warnings; InvalidInput names rows from `offset`."""
    frame, warnings, _ = chunk_input(batch, features, offset)
    return frame, warnings


def chunk_input(batch: pa.RecordBatch | pa.Table, features: list[dict],
                offset: int) -> tuple[pd.DataFrame, list[str], dict]:
    """chunk_frame's frame and warnings, and its text columns as codes (see `_fast_column`)."""
    names = [f["name"] for f in features]
    unseen: dict[str, set] = {}
    codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        data = {f["name"]: _fast_column(batch.column(f["name"]), f, unseen, codes) for f in features}
    except _Slow:
        rows = _python_rows(batch.select(names))
        try:
            checked = check_rows(rows, features, max_rows=max(1, len(rows)))
        except InvalidInput as exc:
            raise InvalidInput(exc.message, _shift_rows(exc.errors, offset), status=exc.status) from exc
        return checked.frame, checked.warnings, {}
    warnings = [f"{name}: {', '.join(sorted(map(str, values))[:5])} not seen in training; "
                "predicted as an unknown value." for name, values in unseen.items()]
    return pd.DataFrame(data, columns=names), warnings, codes


def _python_rows(batch) -> list[dict]:
    """Rows as the JSON API would get them: dates and times as ISO 8601 strings."""
    rows = batch.to_pylist()
    temporal = [f.name for f in batch.schema if pa.types.is_temporal(f.type)]
    for row in rows if temporal else []:
        for name in temporal:
            value = row[name]
            if value is not None and hasattr(value, "isoformat"):
                row[name] = value.isoformat()
    return rows


def _shift_rows(errors: dict, offset: int) -> dict:
    rows = errors.get("rows")
    if not offset or not isinstance(rows, dict):
        return errors
    return {**errors, "rows": {str(int(k) + offset) if str(k).isdigit() else k: v for k, v in rows.items()}}


def output_names(model, input_names: list[str], explain_rows: bool) -> tuple[list[str], list[str]]:
    """(input columns kept, output header): inputs, prediction, probability_<class>..., reasons."""
    added = ["prediction"]
    if model.task == "classification":
        added += [f"probability_{c}" for c in model.classes or []]
    if explain_rows:
        added.append("reasons")
    kept = [n for n in input_names if n not in added]  # an earlier output scored again
    return kept, kept + added


@dataclass(frozen=True)
class Spec:
    """What scoring needs of a model, as plain values (a worker thread never touches the ORM row)."""

    task: str
    classes: list | None
    features: list[dict]
    kept: list[str]
    header: list[str]
    explain_rows: bool
    background: pd.DataFrame | None


def _encode_distinct(encoder, part: pd.DataFrame) -> np.ndarray:
    """`encoder.transform(part)` with each column's distinct values encoded once, then taken.

    sklearn's OrdinalEncoder and TargetEncoder look every cell of a text column up in a Python
    dict; a chunk has few distinct labels. Both encode each column on its own, row by row, into
    `width` adjacent output columns (TargetEncoder: one per class when multiclass), so encoding
    a small frame of the distinct values and taking its rows by each cell's code is the same
    array (tests/unit/test_batch_transform.py compares them).
    """
    codes, uniques = [], []
    for name in part.columns:
        code, distinct = pd.factorize(part[name].to_numpy(dtype=object), use_na_sentinel=False)
        codes.append(code)
        uniques.append(np.asarray(distinct, dtype=object))
    return _encode_coded(encoder, part, list(part.columns), codes, uniques)


def _encode_coded(encoder, part: pd.DataFrame | None, columns: list[str], codes: list[np.ndarray],
                  uniques: list[np.ndarray]) -> np.ndarray:
    """`encoder.transform` of columns given as (codes, values): the values encoded, taken by code.

    Each value encodes the same wherever it stands, so duplicates among `uniques` are fine;
    `part` is the columns themselves, for an encoder whose output is not one block per column
    (None: built from the codes)."""
    n, m = len(codes[0]), len(columns)
    k = max(len(u) for u in uniques)
    small = pd.DataFrame({name: pd.Series(u[np.minimum(np.arange(k), len(u) - 1)], dtype=object)
                          for name, u in zip(columns, uniques, strict=True)}, copy=False)
    encoded = np.asarray(encoder.transform(small))
    width = encoded.shape[1] // m if m else 0
    if encoded.ndim != 2 or width * m != encoded.shape[1]:
        if part is None:
            part = pd.DataFrame({name: pd.Series(u[c], dtype=object)
                                 for name, c, u in zip(columns, codes, uniques, strict=True)}, copy=False)
        return np.asarray(encoder.transform(part))
    out = np.empty((n, encoded.shape[1]), dtype=encoded.dtype)
    for j, code in enumerate(codes):
        out[:, j * width:(j + 1) * width] = encoded[code, j * width:(j + 1) * width]
    return out


def _distinct_encoders() -> tuple[type, ...]:
    from sklearn.preprocessing import OrdinalEncoder, TargetEncoder

    return (OrdinalEncoder, TargetEncoder)


def model_input(pipeline, frame: pd.DataFrame, codes: dict | None = None) -> tuple[object, np.ndarray] | None:
    """(estimator, X) with estimator.predict*(X) == pipeline.predict*(frame); None for other shapes.

    Our saved pipelines are InputCaster -> ColumnTransformer -> estimator; this is
    `pipeline[:-1].transform(frame)` with the label encoders' per-cell Python lookups replaced
    by `_encode_distinct`, the other parts transformed as the ColumnTransformer does. With
    `codes` (chunk_input's), a text column is cast and encoded once per distinct value and
    taken by code: the caster and the encoders work cell by cell, so it is the same array.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from app.ml.training.transformers import NUMERIC_INPUT_KINDS, InputCaster, _as_category

    if type(pipeline) is not Pipeline or len(pipeline.steps) != 3:
        return None
    caster, columns, est = (step for _, step in pipeline.steps)
    if type(caster) is not InputCaster or type(columns) is not ColumnTransformer \
            or columns.remainder != "drop" or columns.sparse_output_:
        return None
    kinds = caster.kinds or {}
    coded = {name: (code, _as_category(pd.Series(lookup, dtype=object)))
             for name, (code, lookup) in (codes or {}).items()
             if name in kinds and kinds[name] not in NUMERIC_INPUT_KINDS and kinds[name] != "datetime"}
    rest = {name: kind for name, kind in kinds.items() if name not in coded}
    plain = InputCaster(rest).transform(frame) if rest else pd.DataFrame(index=frame.index)

    def cast(cols: list[str]) -> pd.DataFrame:
        return pd.DataFrame({c: pd.Series(coded[c][1][coded[c][0]], dtype=object) if c in coded else plain[c]
                             for c in cols}, copy=False)

    blocks = []
    encoders = _distinct_encoders()
    for name, transformer, cols in columns.transformers_:
        if transformer == "drop" or (isinstance(transformer, str) and name == "remainder"):
            continue
        if isinstance(transformer, str) or not isinstance(cols, list) \
                or not all(isinstance(c, str) for c in cols):
            return None
        if not cols:
            continue
        if type(transformer) in encoders and all(c in coded for c in cols):
            block = _encode_coded(transformer, None, cols, [coded[c][0] for c in cols], [coded[c][1] for c in cols])
        else:
            part = cast(cols)
            if type(transformer) in encoders and all(part[c].dtype == object for c in cols):
                block = _encode_distinct(transformer, part)
            else:
                block = transformer.transform(part)
        if not isinstance(block, np.ndarray):
            return None
        blocks.append(block)
    if not blocks:
        return None
    return est, np.hstack(blocks)


def _predict(pipeline, frame: pd.DataFrame, spec: Spec,
             codes: dict | None = None) -> tuple[list, dict[str, np.ndarray]]:
    """Labels (as written in the training file) or numbers, and the probability of each class."""
    prepared = model_input(pipeline, frame, codes)
    model, data = prepared if prepared is not None else (pipeline, frame)
    if spec.task != "classification":
        return [float(v) for v in model.predict(data)], {}
    proba = model.predict_proba(data)
    order = [c.item() if isinstance(c, np.generic) else c for c in pipeline.classes_]
    labels = [order[i] for i in np.argmax(proba, axis=1)]
    index = {c: i for i, c in enumerate(order)}
    wanted = spec.classes or order
    columns = {str(c): proba[:, index[c]] if c in index else np.zeros(len(frame)) for c in wanted}
    return labels, columns


def _seconds_text(column: pa.Array) -> pa.Array:
    """Whole-second timestamps as export.py writes them (%Y-%m-%dT%H:%M:%S), without Arrow's slow strftime."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_timestamp(column.type) or column.type.tz is not None:
        return column
    stamps = column.to_numpy(zero_copy_only=False)
    whole = stamps.astype("datetime64[s]")
    valid = ~np.isnat(stamps)
    if (whole[valid] != stamps[valid]).any():
        return column  # fractions of a second: export.py's own formatting
    if valid.any() and _FOUR_DIGIT_YEARS[0] <= whole[valid].min() and whole[valid].max() < _FOUR_DIGIT_YEARS[1]:
        # Arrow's cast writes "YYYY-MM-DD HH:MM:SS" for four-digit years: the same text, faster
        text = column.cast(pa.timestamp("s")).cast(pa.string())
        return pc.replace_substring(text, " ", "T", max_replacements=1)
    return pa.array(np.datetime_as_string(whole), pa.string(), mask=~valid)


_FOUR_DIGIT_YEARS = (np.datetime64("1000-01-01T00:00:00", "s"), np.datetime64("10000-01-01T00:00:00", "s"))


@dataclass
class Chunk:
    """One scored chunk: its output rows as CSV (no header) and what the caller logs of it."""

    offset: int
    batch: pa.RecordBatch
    labels: list
    probabilities: dict
    csv: bytes
    escaped: int  # cells made formula-safe in `csv`
    warnings: list[str]


def csv_header(header: list[str]) -> tuple[bytes, int]:
    """The output's header line as export.write_csv writes it, and the names it escaped."""
    buffer = io.BytesIO()
    escaped = write_csv(header, [], buffer)
    return buffer.getvalue(), escaped


def csv_rows(header: list[str], batch: pa.RecordBatch) -> tuple[bytes, int]:
    """export.write_csv's rows of one batch (the bytes after its header line), and the cells escaped."""
    head, head_escaped = csv_header(header)
    buffer = io.BytesIO()
    escaped = write_csv(header, [batch], buffer)
    return buffer.getvalue()[len(head):], escaped - head_escaped


def score_chunk(spec: Spec, pipeline, batch: pa.RecordBatch, offset: int) -> Chunk:
    """The output batch of one input batch: kept input columns, prediction and the rest."""
    frame, warnings, codes = chunk_input(batch, spec.features, offset)
    labels, probabilities = _predict(pipeline, frame, spec, codes)
    arrays = [_seconds_text(batch.column(n)) for n in spec.kept]
    arrays.append(pa.array([str(p) for p in labels] if spec.task == "classification" else labels))
    if spec.task == "classification":
        arrays += [pa.array(probabilities[str(c)], pa.float64()) for c in spec.classes or []]
    if spec.explain_rows:
        reasons = explain(pipeline, frame, spec.background, spec.task, labels)
        arrays.append(pa.array(["; ".join(r["text"] for r in rs) for rs in reasons], pa.string()))
    text, escaped = csv_rows(spec.header, pa.RecordBatch.from_arrays(arrays, names=spec.header))
    return Chunk(offset, batch, labels, probabilities, text, escaped, warnings)


def scored_chunks(spec: Spec, pipeline, batches, workers: int = 2) -> Iterator[Chunk]:
    """Chunks in order, scored ahead by `workers` threads while the caller writes the previous ones.

    The model's NumPy/OpenMP work and Arrow's kernels release the GIL, so one chunk's prediction
    overlaps another's Python-bound input casting. 2 x workers chunks are queued ahead, so the
    workers keep busy while the caller spends a moment on one chunk (the drift sample of the
    first); at most 2 x workers + 1 chunks are held at once, whatever the input's size; a
    worker's failure is raised here, in order.
    """
    from threadpoolctl import threadpool_limits

    pending: deque[Future] = deque()
    source = iter(batches)
    offset = 0

    def submit_next(pool: ThreadPoolExecutor) -> None:
        nonlocal offset
        for batch in source:
            if batch.num_rows:
                pending.append(pool.submit(score_chunk, spec, pipeline, batch, offset))
                offset += batch.num_rows
                return

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="batch-scoring")
    # The chunks are the parallelism: OpenMP threads inside each prediction as well would put
    # workers x cores threads on the cores (a job process has one per core), spinning at load.
    limits = threadpool_limits(limits=1, user_api="openmp") if workers > 1 else None
    try:
        for _ in range(2 * max(1, workers)):
            submit_next(pool)
        while pending:
            chunk = pending.popleft().result()
            submit_next(pool)
            yield chunk
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if limits is not None:
            limits.restore_original_limits()
