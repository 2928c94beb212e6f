"""The vectorised InputCaster gives exactly what the original cell-by-cell version gave.

`_old_transform` below is the InputCaster.transform the models were trained with before the
casting was vectorised (str() per cell, pandas.to_numeric on object arrays); the saved
models' predictions must not move.
"""

import numpy as np
import pandas as pd
import pytest
import skops.io

from app.ml.tracking import TRUSTED_TYPES
from app.ml.training.candidates import fit_limited, make_pipeline
from app.ml.training.families import CLASSIFIERS, REGRESSORS
from app.ml.training.preprocessing import category_cardinality
from app.ml.training.transformers import MISSING_CATEGORY, NUMERIC_INPUT_KINDS, InputCaster


def _old_numeric(values):
    out = pd.to_numeric(values.astype(object), errors="coerce").astype("float64").to_numpy(copy=True)
    out[~np.isfinite(out)] = np.nan
    return out


def _old_category(values):
    obj = values.astype(object)
    missing = obj.isna().to_numpy()
    out = np.array([str(v) for v in obj], dtype=object)
    out[missing] = MISSING_CATEGORY
    return out


def _old_date_parts(values):
    stamps = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    days = (stamps - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(days=1)
    parts = {"year": stamps.dt.year, "month": stamps.dt.month, "day": stamps.dt.day,
             "dayofweek": stamps.dt.dayofweek, "hour": stamps.dt.hour, "days": days}
    return {name: _old_numeric(part) for name, part in parts.items()}


def _old_transform(caster, X):
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=list(caster.kinds))
    columns = {}
    for name, kind in caster.kinds.items():
        values = frame[name] if name in frame else pd.Series([None] * len(frame))
        values = values.reset_index(drop=True)
        if kind in NUMERIC_INPUT_KINDS:
            columns[name] = _old_numeric(values)
        elif kind == "datetime":
            for part, arr in _old_date_parts(values).items():
                columns[f"{name}__{part}"] = arr
        else:
            columns[name] = _old_category(values)
    return pd.DataFrame(columns)


KINDS = {"n": "integer", "x": "float", "big": "integer", "label": "categorical",
         "flag": "boolean", "code": "categorical", "ratio": "categorical", "mixed": "categorical",
         "cat": "categorical", "when": "datetime", "stamp": "datetime", "absent": "categorical",
         "absent_n": "float", "absent_d": "datetime"}


def _raw_frame(index=None) -> pd.DataFrame:
    """Every input shape the caster meets: typed Parquet columns, API strings, None, NaN, NA."""
    frame = pd.DataFrame({
        "n": pd.array([1, None, 3, -4, 0, 7, None, 2], dtype="Int64"),
        "x": [1.5, np.nan, np.inf, -0.0, -np.inf, 2.25, 1e300, 0.1],
        "big": np.array([2**53 + 1, -(2**62), 0, 5, 6, 7, 8, 9], dtype="int64"),
        "label": pd.array(["a", None, "b", "a", "zz", " b", "", "é"], dtype=object),
        "flag": pd.array(["yes", "no", None, "yes", "no", "no", "yes", np.nan], dtype=object),
        "code": np.array([3, 1, 2, 3, 1, 2, 3, 4], dtype="int64"),
        "ratio": [0.0, -0.0, 1.0, np.nan, 2.5, 1.0, 3.0, 0.0],
        "mixed": pd.array([1, "1", 1.0, True, None, pd.NA, np.nan, "x"], dtype=object),
        "cat": pd.Categorical(["u", "v", None, "u", "w", "v", "u", None]),
        "when": pd.to_datetime(["2021-03-04 05:06:07", None, "1999-12-31", "2030-01-01 23:59:59",
                                "2021-03-04", None, "1970-01-01", "2000-02-29 12:00:00"], format="mixed"),
        "stamp": pd.array(["2021-03-04T05:06:07", None, "not a date", "2022-05-01 10:00:00+02:00",
                           "2021-03-04", "", "1970-01-01", "2000-02-29"], dtype=object),
    }, index=index)
    return frame


def _api_frame() -> pd.DataFrame:
    """Values as JSON rows give them: strings for numbers, None everywhere."""
    return pd.DataFrame([
        {"n": "3.0", "x": None, "label": "purple", "flag": None, "code": "7", "when": "2022-05-01T10:00:00"},
        {"n": None, "x": "1.5", "label": None, "flag": "yes", "code": 3, "when": None},
        {"n": 7, "x": float("inf"), "label": "a", "flag": True, "code": None, "when": "not a date"},
        {"n": "x", "x": " 2 ", "label": 12, "flag": False, "code": 1.0, "when": "2021-03-04"},
    ])


def _str_frame() -> pd.DataFrame:
    """pandas 3's default str dtype (what Parquet strings read into)."""
    return pd.DataFrame({
        "label": pd.array(["a", None, "b", "a"], dtype="str"),
        "flag": pd.array(["yes", "no", None, "yes"], dtype="string"),
        "n": pd.array(["1", "2", None, "x"], dtype="str"),
        "code": pd.array([True, False, True, True]),
    })


@pytest.mark.parametrize("make", [
    _raw_frame, lambda: _raw_frame(index=range(100, 108)), _api_frame, _str_frame,
    lambda: _raw_frame().iloc[0:0], lambda: pd.DataFrame({"label": [None, None, np.nan]}),
])
def test_cast_matches_the_cell_by_cell_version(make):
    caster = InputCaster(KINDS).fit(None)
    new, old = caster.transform(make()), _old_transform(caster, make())
    assert list(new.columns) == list(old.columns) == list(caster.get_feature_names_out())
    assert len(new) == len(old)
    for name in old.columns:
        a, b = new[name].to_numpy(), old[name].to_numpy()
        if a.dtype == object or b.dtype == object:
            assert list(a) == list(b), name
            assert all(type(v) is str for v in a), name
        else:
            assert a.dtype == b.dtype == np.float64, name
            np.testing.assert_array_equal(a, b, err_msg=name)
            assert np.array_equal(np.signbit(a), np.signbit(b)), name


def _training_frame(n=240, seed=0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    city = rng.choice([f"city{i}" for i in range(8)], n)
    tag = rng.choice([f"tag{i}" for i in range(40)], n)  # > one-hot limit: target encoding
    frame = pd.DataFrame({
        "x": x,
        "count": pd.array(rng.integers(0, 50, n), dtype="Int64"),
        "city": pd.array(city, dtype=object),
        "tag": pd.array(tag, dtype=object),
        "flag": pd.array(rng.choice(["yes", "no"], n), dtype=object),
        "when": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 10**8, n), unit="s"),
    })
    score = x + (city == "city1") * 1.5 + (tag < "tag2") + rng.normal(scale=0.3, size=n)
    frame.loc[::17, "x"] = np.nan
    frame.loc[::13, "city"] = None
    frame.loc[::11, "when"] = pd.NaT
    return frame, np.where(score > 0.5, "yes", "no").astype(object), score * 10


FEATURES = {"x": "float", "count": "integer", "city": "categorical", "tag": "categorical",
            "flag": "boolean", "when": "datetime"}


def _scoring_frame() -> pd.DataFrame:
    """Missing values, unseen categories, dates as stamps, strings and garbage."""
    frame, _, _ = _training_frame(n=40, seed=1)
    frame = frame.astype({"city": object, "when": object})
    frame.loc[0:4, "city"] = ["nowhere", None, np.nan, "city1", "city 1"]
    frame.loc[5:8, "tag"] = ["tag999", None, "", "tag3"]
    frame.loc[9:12, "when"] = ["2023-01-02T03:04:05", None, "garbage", pd.NaT]
    frame.loc[13:14, "flag"] = [None, "maybe"]
    frame["count"] = frame["count"].astype(object)
    frame.loc[15:17, "count"] = ["12", None, "n/a"]
    return frame


@pytest.mark.parametrize(("task", "family"), [
    ("classification", "hist_gradient_boosting"), ("regression", "hist_gradient_boosting"),
    ("classification", "logistic_regression"), ("regression", "random_forest"),
])
def test_predictions_are_those_of_the_old_casting(task, family, monkeypatch):
    X, labels, amounts = _training_frame()
    fam = (CLASSIFIERS if task == "classification" else REGRESSORS)[family]
    params = {**fam.defaults, **({"n_estimators": 20} if "n_estimators" in fam.defaults else {})}
    pipe = make_pipeline(fam, params, 0, FEATURES, category_cardinality(X, FEATURES), task)
    fit_limited(pipe, X, labels if task == "classification" else amounts)
    rows = _scoring_frame()
    predict = pipe.predict_proba if task == "classification" else pipe.predict
    new = predict(rows)
    monkeypatch.setattr(InputCaster, "transform", _old_transform)
    old = predict(rows)
    np.testing.assert_array_equal(new, old)


def test_a_model_trained_with_the_old_casting_loads_and_predicts_the_same(tmp_path, monkeypatch):
    X, labels, _ = _training_frame()
    fam = CLASSIFIERS["hist_gradient_boosting"]
    rows = _scoring_frame()
    with monkeypatch.context() as patched:
        patched.setattr(InputCaster, "transform", _old_transform)
        pipe = make_pipeline(fam, fam.defaults, 0, FEATURES, category_cardinality(X, FEATURES),
                             "classification")
        fit_limited(pipe, X, labels)
        before = pipe.predict_proba(rows)
        skops.io.dump(pipe, tmp_path / "model.skops")
    untrusted = skops.io.get_untrusted_types(file=tmp_path / "model.skops")
    assert set(untrusted) <= TRUSTED_TYPES
    loaded = skops.io.load(tmp_path / "model.skops", trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict_proba(rows), before)
