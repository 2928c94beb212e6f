"""A batch chunk as the model's input: Arrow columns cleaned, checked and typed into the frame the
pipeline takes, and text columns cast and encoded once per distinct value (Arrow's dictionary
codes) instead of once per cell. Plain values only (no Flask, no database).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
