"""Batch scoring's model input (label encoders applied to distinct values) equals the pipeline's own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.pipeline import Pipeline

from app.blueprints.prediction.chunks import Spec, model_input, score_chunk
from app.ml.serving import check_rows
from app.ml.training.families import FAMILIES
from app.ml.training.preprocessing import build_preprocessor, category_cardinality

KINDS = {"size": "float", "count": "integer", "colour": "categorical", "city": "categorical",
         "town": "categorical", "seen": "datetime", "note": "text"}


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "size": rng.normal(10, 3, n),
        "count": rng.integers(0, 50, n).astype(float),
        "colour": rng.choice(["red", "green", "blue"], n).astype(object),
        "city": rng.choice([f"c{i}" for i in range(40)], n).astype(object),
        "town": rng.choice([f"t{i}" for i in range(400)], n).astype(object),  # > 250: target encoded
        "seen": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
        "note": rng.choice(["a b", "c d", "e f"], n).astype(object),
    })
    df.loc[rng.random(n) < 0.1, "size"] = np.nan
    df.loc[rng.random(n) < 0.1, "colour"] = np.nan
    df.loc[rng.random(n) < 0.1, "town"] = np.nan
    return df


def _fit(task: str, family: str, style: str, target) -> Pipeline:
    X = _frame(len(target), 0)
    pre, native = build_preprocessor(KINDS, category_cardinality(X, KINDS), style, task)
    params = {"native_categories": native} if family == "hist_gradient_boosting" else {}
    est = FAMILIES[task][family].build({}, seed=0, **params)
    if family == "hist_gradient_boosting":
        est.set_params(max_iter=20, early_stopping=False)
    elif hasattr(est, "n_estimators"):
        est.set_params(n_estimators=5)
    return Pipeline([*pre.steps, ("model", est)]).fit(X, target)


def _rows(n: int) -> list[dict]:
    rng = np.random.default_rng(7)
    return [{
        "size": None if rng.random() < 0.2 else float(rng.normal(10, 4)),
        "count": None if rng.random() < 0.1 else int(rng.integers(-5, 60)),
        "colour": rng.choice(["red", "green", "blue", "purple", None]),
        "city": rng.choice(["c1", "c7", "c39", "nowhere", None]),
        "town": rng.choice(["t1", "t17", "t399", "elsewhere", None]),
        "seen": rng.choice(["2021-03-04", "2019-12-31T10:00:00", None]),
        "note": rng.choice(["a b", "zz", None]),
    } for _ in range(n)]


def _features():
    return [{"name": n, "kind": k} for n, k in KINDS.items()]


CASES = [
    ("classification", "hist_gradient_boosting", "hgb", ["no", "yes"]),
    ("classification", "hist_gradient_boosting", "hgb", ["a", "b", "c"]),  # multiclass target encoding
    ("classification", "random_forest", "tree", ["a", "b", "c"]),
    ("classification", "logistic_regression", "linear", ["no", "yes"]),
    ("regression", "hist_gradient_boosting", "hgb", None),
    ("regression", "ridge", "linear", None),
]


@pytest.mark.parametrize(("task", "family", "style", "classes"), CASES)
def test_model_input_is_the_pipelines_own_transform(task, family, style, classes):
    rng = np.random.default_rng(1)
    y = rng.choice(classes, 500) if classes else rng.normal(size=500)
    pipeline = _fit(task, family, style, y)
    frame = check_rows(_rows(300), _features(), max_rows=1000).frame
    est, X = model_input(pipeline, frame)
    assert est is pipeline.steps[-1][1]
    expected = pipeline[:-1].transform(frame)
    assert X.shape == expected.shape and X.dtype == expected.dtype
    assert np.array_equal(X, expected, equal_nan=True)
    if task == "classification":
        assert np.array_equal(est.predict_proba(X), pipeline.predict_proba(frame))
    else:
        assert np.array_equal(est.predict(X), pipeline.predict(frame))


def test_a_chunk_scores_as_the_pipeline_predicts():
    y = np.random.default_rng(3).choice(["a", "b", "c"], 500)
    pipeline = _fit("classification", "hist_gradient_boosting", "hgb", y)
    frame = _frame(200, 5)
    frame["seen"] = frame["seen"].dt.strftime("%Y-%m-%d")
    batch = pa.RecordBatch.from_pandas(frame, preserve_index=False)
    classes = ["a", "b", "c"]
    header = list(KINDS) + ["prediction"] + [f"probability_{c}" for c in classes]
    spec = Spec("classification", classes, _features(), list(KINDS), header, False, None)
    chunk = score_chunk(spec, pipeline, batch, 0)
    expected_frame = check_rows(frame.astype(object).where(frame.notna(), None).to_dict("records"),
                                _features(), max_rows=1000).frame
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
    from app.blueprints.prediction.chunks import _text_objects

    cells = pa.array(["a", None, "b", "a", "", None, "ç"])
    assert list(_text_objects(cells)) == list(cells.to_numpy(zero_copy_only=False))
    assert list(_text_objects(pa.array([None, None], pa.string()))) == [None, None]
