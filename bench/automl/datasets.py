"""Benchmark datasets that ship inside PyPI wheels (no downloads at run time).

Each loader returns (frame, target, task). Files are read straight from the installed
package folders so the heavy packages (plotnine, statsmodels, ISLP) need not import.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
from sklearn import datasets as skd


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"install {name} (bench extra) to load its data")
    return Path(next(iter(spec.submodule_search_locations)))


def _csv(package: str, *parts: str, **kw) -> pd.DataFrame:
    return pd.read_csv(_package_dir(package).joinpath(*parts), **kw)


def breast_cancer():
    d = skd.load_breast_cancer(as_frame=True)
    df = d.frame.copy()
    df["target"] = df["target"].map({0: "malignant", 1: "benign"})
    return df, "target", "classification"


def digits():
    d = skd.load_digits(as_frame=True)
    return d.frame, "target", "classification"


def penguins():
    df = _csv("palmerpenguins", "data", "penguins.csv")
    return df, "species", "classification"


def oj():
    df = _csv("ISLP", "data", "OJ.csv")
    return df.drop(columns=[c for c in df.columns if c.startswith("Unnamed")]), "Purchase", \
        "classification"


def diamonds_cut():
    df = _csv("plotnine", "data", "diamonds.csv")
    return df, "cut", "classification"


def diabetes():
    d = skd.load_diabetes(as_frame=True, scaled=False)
    return d.frame, "target", "regression"


def carseats():
    df = _csv("ISLP", "data", "Carseats.csv")
    return df.drop(columns=[c for c in df.columns if c.startswith("Unnamed")]), "Sales", \
        "regression"


def bikeshare():
    df = _csv("ISLP", "data", "Bikeshare.csv")
    # casual + registered = bikers: they would leak the answer.
    drop = [c for c in df.columns if c.startswith("Unnamed")] + ["casual", "registered"]
    return df.drop(columns=drop), "bikers", "regression"


def randhie():
    df = _csv("statsmodels", "datasets", "randhie", "randhie.csv")
    return df, "mdvis", "regression"


def txhousing():
    df = _csv("plotnine", "data", "txhousing.csv")
    return df.drop(columns=["date"]), "median", "regression"


DATASETS = {
    "breast_cancer": breast_cancer, "digits": digits, "penguins": penguins, "oj": oj,
    "diamonds_cut": diamonds_cut, "diabetes": diabetes, "carseats": carseats,
    "bikeshare": bikeshare, "randhie": randhie, "txhousing": txhousing,
}
QUICK = ("breast_cancer", "penguins", "carseats", "bikeshare")


def kinds_of(df: pd.DataFrame) -> dict[str, str]:
    """Column kinds the way the app's ingest would give them (simplified)."""
    kinds = {}
    for name, col in df.items():
        if pd.api.types.is_integer_dtype(col):
            kinds[name] = "integer"
        elif pd.api.types.is_float_dtype(col):
            whole = col.dropna()
            kinds[name] = "integer" if len(whole) and (whole == whole.round()).all() and \
                col.isna().any() else "float"
        else:
            kinds[name] = "categorical"
    return kinds


def as_app_frame(df: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Dtypes as the app reads them from Parquet: nullable Int64, float64, strings."""
    out = {}
    for name, kind in kinds.items():
        if kind == "integer":
            out[name] = df[name].astype("Int64")
        elif kind == "float":
            out[name] = df[name].astype("float64")
        else:
            out[name] = df[name].astype("string").astype(object).where(df[name].notna(), None)
    return pd.DataFrame(out)
