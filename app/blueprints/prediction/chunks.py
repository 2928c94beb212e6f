"""Scoring a chunk of a batch: the model's input (chunk_input) in, predictions and output CSV out.

Plain values only (no Flask, no database): `scored_chunks` scores a few chunks ahead in worker
threads, each chunk down to its formula-safe CSV rows, while the caller writes the previous one,
so a file of any size is scored with at most 2 x workers + 1 chunks in memory, and the caller's thread
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

from app.blueprints.prediction.chunk_input import chunk_input, model_input
from app.ml.explain import explain
from app.ml.export import write_csv


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
