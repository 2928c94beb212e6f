"""Small synthetic frames shaped like the app's Parquet reads (Int64, float64, strings)."""

import numpy as np
import pandas as pd
import pytest


def make_frame(n=160, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], n)
    score = x + (color == "red") * 1.5 + rng.normal(scale=0.3, size=n)
    frame = pd.DataFrame({
        "customer_id": pd.array([f"C{i:05d}" for i in range(n)], dtype=object),
        "x": x,
        "count": pd.array(rng.integers(0, 50, n), dtype="Int64"),
        "color": pd.array(color, dtype=object),
        "signed": pd.array(
            pd.date_range("2021-01-01", periods=n, freq="D").astype(str), dtype=object),
        "constant": pd.array(["same"] * n, dtype=object),
        "amount": score * 10 + 100,
        "label": pd.array(np.where(score > 0.5, "yes", "no"), dtype=object),
    })
    frame["signed"] = pd.to_datetime(frame["signed"])
    frame.loc[::17, "x"] = np.nan
    frame.loc[::13, "color"] = None
    return frame


KINDS = {"customer_id": "id", "x": "float", "count": "integer", "color": "categorical",
         "signed": "datetime", "constant": "categorical", "amount": "float",
         "label": "boolean"}


@pytest.fixture
def frame():
    return make_frame()


@pytest.fixture
def kinds():
    return dict(KINDS)


@pytest.fixture
def frame_maker():
    """make_frame itself, for a test that needs a frame of another size."""
    return make_frame
