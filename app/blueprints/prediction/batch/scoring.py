"""Scoring rows into a formula-safe CSV: chunks scored ahead in threads, the first rows sampled for drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app

from app.blueprints.prediction import service
from app.blueprints.prediction.batch.config import MAX_WARNINGS
from app.blueprints.prediction.chunks import Chunk, Spec, csv_header, output_names, scored_chunks
from app.blueprints.prediction.sampling import log_sampled_rows
from app.models import TrainedModel


@dataclass
class Scored:
    """What the scoring of a file has given so far: rows scored and warnings."""

    n_rows: int = 0
    warnings: list[str] = field(default_factory=list)


def make_spec(model: TrainedModel, input_names: list[str], explain_rows: bool) -> Spec:
    kept, header = output_names(model, input_names, explain_rows)
    return Spec(
        model.task,
        list(model.classes) if model.classes else None,
        list(model.features),
        kept,
        header,
        explain_rows,
        service.background_frame(model) if explain_rows else None,
    )


def _sample_logger(model: TrainedModel, spec: Spec):
    """Log the first rows scored (the sample for drift has a daily cap anyway)."""
    cap = int(current_app.config.get("PREDICTION_SAMPLE_MAX_PER_DAY", 10_000))
    names = [f["name"] for f in spec.features]

    def log_first(chunk: Chunk) -> None:
        if chunk.offset or cap <= 0:
            return
        n = min(len(chunk.labels), cap)
        rows = chunk.batch.slice(0, n).select(names).to_pylist()
        probs = (
            [{c: float(v[i]) for c, v in chunk.probabilities.items()} for i in range(n)]
            if chunk.probabilities
            else None
        )
        log_sampled_rows(model, rows, chunk.labels[:n], probs)

    return log_first


def write_scored(
    model: TrainedModel,
    pipeline,
    batches,
    out,
    *,
    input_names: list[str],
    explain_rows: bool,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[int, int, list[str]]:
    """Score `batches` into `out` as formula-safe CSV; (rows, cells escaped, warnings)."""
    spec = make_spec(model, input_names, explain_rows)
    log_first = _sample_logger(model, spec)
    state = Scored()
    header, escaped = csv_header(spec.header)
    out.write(header)
    for chunk in scored_chunks(spec, pipeline, batches):  # each chunk's CSV made in a worker thread
        out.write(chunk.csv)
        escaped += chunk.escaped
        log_first(chunk)  # in this thread: the database session is this thread's
        for w in chunk.warnings:
            if w not in state.warnings and len(state.warnings) < MAX_WARNINGS:
                state.warnings.append(w)
        state.n_rows += chunk.batch.num_rows
        if on_chunk is not None:
            on_chunk(state.n_rows)
    return state.n_rows, escaped, state.warnings
