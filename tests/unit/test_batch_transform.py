"""Batch scoring's model input (label encoders applied to distinct values) equals the pipeline's own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from app.blueprints.prediction.chunk_input import model_input
from app.blueprints.prediction.chunks import Spec, score_chunk
from app.ml.serving import check_rows

CASES = [
    ("classification", "hist_gradient_boosting", "hgb", ["no", "yes"]),
    ("classification", "hist_gradient_boosting", "hgb", ["a", "b", "c"]),  # multiclass target encoding
    ("classification", "random_forest", "tree", ["a", "b", "c"]),
    ("classification", "logistic_regression", "linear", ["no", "yes"]),
    ("regression", "hist_gradient_boosting", "hgb", None),
    ("regression", "ridge", "linear", None),
]


@pytest.mark.parametrize(("task", "family", "style", "classes"), CASES)
def test_model_input_is_the_pipelines_own_transform(models, task, family, style, classes):
    rng = np.random.default_rng(1)
    y = rng.choice(classes, 500) if classes else rng.normal(size=500)
    pipeline = models.fit(task, y, family=family, style=style)
    frame = check_rows(models.rows(300), models.features(), max_rows=1000).frame
    est, X = model_input(pipeline, frame)
    assert est is pipeline.steps[-1][1]
    expected = pipeline[:-1].transform(frame)
    assert X.shape == expected.shape and X.dtype == expected.dtype
    assert np.array_equal(X, expected, equal_nan=True)
    if task == "classification":
        assert np.array_equal(est.predict_proba(X), pipeline.predict_proba(frame))
    else:
        assert np.array_equal(est.predict(X), pipeline.predict(frame))


@pytest.mark.parametrize(("task", "family", "style", "classes"), CASES)
def test_text_columns_encoded_once_per_distinct_value_give_the_same_input(models, task, family, style, classes):
    from app.blueprints.prediction.chunk_input import chunk_input

    rng = np.random.default_rng(1)
    y = rng.choice(classes, 500) if classes else rng.normal(size=500)
    pipeline = models.fit(task, y, family=family, style=style)
    frame = models.frame(300, 11)
    for name, odd in (("colour", [" red", "purple", "NA", ""]), ("town", ["elsewhere", "t3 ", "(missing)", "null"])):
        frame.loc[rng.random(300) < 0.2, name] = rng.choice(odd)
    batch = pa.RecordBatch.from_pandas(frame, preserve_index=False)  # "seen" as timestamps: the fast path
    checked, _, codes = chunk_input(batch, models.features(), 0)
    assert set(codes) == {"colour", "city", "town", "note"}
    _, X = model_input(pipeline, checked, codes)
    expected = pipeline[:-1].transform(checked)
    assert X.shape == expected.shape and X.dtype == expected.dtype
    assert np.array_equal(X, expected, equal_nan=True)
    assert np.array_equal(X, model_input(pipeline, checked)[1], equal_nan=True)


def test_a_chunk_scores_as_the_pipeline_predicts(models):
    y = np.random.default_rng(3).choice(["a", "b", "c"], 500)
    pipeline = models.fit("classification", y)
    frame = models.frame(200, 5)
    frame["seen"] = frame["seen"].dt.strftime("%Y-%m-%d")
    batch = pa.RecordBatch.from_pandas(frame, preserve_index=False)
    classes = ["a", "b", "c"]
    header = list(models.kinds) + ["prediction"] + [f"probability_{c}" for c in classes]
    spec = Spec("classification", classes, models.features(), list(models.kinds), header, False, None)
    chunk = score_chunk(spec, pipeline, batch, 0)
    expected_frame = check_rows(frame.astype(object).where(frame.notna(), None).to_dict("records"),
                                models.features(), max_rows=1000).frame
    proba = pipeline.predict_proba(expected_frame)
    assert np.array_equal(np.column_stack([chunk.probabilities[c] for c in classes]), proba)
    assert chunk.labels == list(pipeline.predict(expected_frame))


def test_other_pipelines_are_left_to_themselves():
    assert model_input(object(), pd.DataFrame()) is None


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_whole_second_stamps_are_written_as_numpy_writes_them(unit):
    from app.blueprints.prediction.chunks import _seconds_text

    rng = np.random.default_rng(4)
    for low, high in ((-2_000_000_000, 4_000_000_000), (-40_000_000_000, 253_402_300_799)):
        seconds = rng.integers(low, high, 2000).astype("datetime64[s]")
        missing = rng.random(2000) < 0.1
        column = pa.array(seconds, pa.timestamp(unit), mask=missing)
        expected = pa.array(np.datetime_as_string(seconds), pa.string(), mask=missing)
        assert _seconds_text(column).equals(expected)


def test_text_cells_become_the_same_objects_as_numpy_gives():
    from app.blueprints.prediction.chunk_input import _text_objects

    cells = pa.array(["a", None, "b", "a", "", None, "ç"])
    assert list(_text_objects(cells)) == list(cells.to_numpy(zero_copy_only=False))
    assert list(_text_objects(pa.array([None, None], pa.string()))) == [None, None]


def test_text_is_cleaned_once_per_distinct_value_as_cell_by_cell():
    from app.blueprints.prediction.chunk_input import _clean_codes, _clean_text

    for column in (pa.array([" a", "a", "NA", None, "", "b ", "N/A", "null "]), pa.array([None, None], pa.string()),
                   pa.array([], pa.string())):
        code, lookup = _clean_codes(column)
        assert list(lookup[code]) == list(_clean_text(column)[0].to_numpy(zero_copy_only=False))
        assert len(set(lookup[:-1])) == len(lookup) - 1  # " a" and "a" are one value
