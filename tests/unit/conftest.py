"""Small fitted pipelines of the training code, and rows to score with them (prediction unit tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from app.ml.training.families import FAMILIES
from app.ml.training.preprocessing import build_preprocessor, category_cardinality

# "town" has more than 250 categories: target encoded (a part fast_predict does not compile)
KINDS = {
    "size": "float",
    "count": "integer",
    "colour": "categorical",
    "city": "categorical",
    "town": "categorical",
    "seen": "datetime",
    "note": "text",
}
WITHOUT_TOWN = {k: v for k, v in KINDS.items() if k != "town"}


class Models:
    """Frames to fit on, JSON-like rows to score (missing and unseen values), fitted pipelines."""

    kinds = KINDS
    without_town = WITHOUT_TOWN

    @staticmethod
    def frame(n: int, seed: int, kinds: dict = KINDS) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        df = pd.DataFrame(
            {
                "size": rng.normal(10, 3, n),
                "count": rng.integers(0, 50, n).astype(float),
                "colour": rng.choice(["red", "green", "blue"], n).astype(object),
                "city": rng.choice([f"c{i}" for i in range(40)], n).astype(object),
                "town": rng.choice([f"t{i}" for i in range(400)], n).astype(object),
                "seen": pd.to_datetime("2020-01-01")
                + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
                "note": rng.choice(["a b", "c d", "e f"], n).astype(object),
            }
        )
        df.loc[rng.random(n) < 0.1, "size"] = np.nan
        df.loc[rng.random(n) < 0.1, "colour"] = np.nan
        df.loc[rng.random(n) < 0.1, "town"] = np.nan
        return df[list(kinds)]

    @staticmethod
    def rows(n: int, kinds: dict = KINDS) -> list[dict]:
        rng = np.random.default_rng(7)
        return [
            {
                name: value
                for name, value in {
                    "size": None if rng.random() < 0.2 else float(rng.normal(10, 4)),
                    "count": None if rng.random() < 0.1 else int(rng.integers(-5, 60)),
                    "colour": rng.choice(["red", "green", "blue", "purple", None]),
                    "city": rng.choice(["c1", "c7", "c39", "nowhere", None]),
                    "town": rng.choice(["t1", "t17", "t399", "elsewhere", None]),
                    "seen": rng.choice(["2021-03-04", "2019-12-31T10:00:00", None]),
                    "note": rng.choice(["a b", "zz", None]),
                }.items()
                if name in kinds
            }
            for _ in range(n)
        ]

    @staticmethod
    def features(kinds: dict = KINDS) -> list[dict]:
        return [{"name": n, "kind": k} for n, k in kinds.items()]

    @classmethod
    def fit(
        cls,
        task: str,
        target,
        *,
        family: str = "hist_gradient_boosting",
        style: str = "hgb",
        kinds: dict = KINDS,
        iterations: int = 20,
    ) -> Pipeline:
        X = cls.frame(len(target), 0, kinds)
        pre, native = build_preprocessor(kinds, category_cardinality(X, kinds), style, task)
        params = {"native_categories": native} if family == "hist_gradient_boosting" else {}
        est = FAMILIES[task][family].build({}, seed=0, **params)
        if family == "hist_gradient_boosting":
            est.set_params(max_iter=iterations, early_stopping=False)
        elif hasattr(est, "n_estimators"):
            est.set_params(n_estimators=5)
        return Pipeline([*pre.steps, ("model", est)]).fit(X, target)


@pytest.fixture
def models() -> type[Models]:
    return Models
