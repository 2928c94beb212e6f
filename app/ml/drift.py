"""Data drift: recent prediction inputs against the training data, feature by feature (no Flask here).

A *reference profile* summarises the training data once (it is cached by the caller): for a
numeric feature (integer, float, datetime as seconds) its quantile bin edges, the share of
rows in each bin and a thousand quantiles that stand in for the sample in the KS test; for
any other feature its most frequent categories with their counts, the rest being "other".
Both kinds keep a "missing" bin. `compare` then gives, per feature, the population stability
index (PSI), a two-sample test (Kolmogorov-Smirnov for numeric, chi-square for categorical),
a status and the two histograms for a chart; the model's status is its worst feature's.

PSI = sum over bins of (recent - training) * ln(recent / training), over the bins that are
non-empty in either sample; each share counts half an observation more (the epsilon), so a bin
empty on one side gives a large but finite term and small samples are not over-penalised.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

NUMERIC_KINDS = ("integer", "float", "datetime")
N_BINS = 10
MAX_CATEGORIES = 30
N_QUANTILES = 1001  # the training stand-in for the KS test
PSEUDO_COUNT = 0.5
WARNING_PSI = 0.1
DRIFT_PSI = 0.2
MIN_SAMPLES = 100
MISSING = "missing"
OTHER = "other"
STATUS_ORDER = ("ok", "warning", "drift")
PROFILE_VERSION = 1


def psi_status(psi: float) -> str:
    """ok, warning above 0.1, drift above 0.2."""
    if psi > DRIFT_PSI:
        return "drift"
    if psi > WARNING_PSI:
        return "warning"
    return "ok"


def worst(statuses) -> str:
    statuses = list(statuses)
    return max(statuses, key=STATUS_ORDER.index) if statuses else "ok"


def psi(expected_counts, actual_counts, pseudo_count: float = PSEUDO_COUNT) -> float:
    """Population stability index of two histograms over the same bins (counts, not shares)."""
    expected = np.asarray(expected_counts, dtype=float)
    actual = np.asarray(actual_counts, dtype=float)
    keep = (expected > 0) | (actual > 0)
    expected, actual = expected[keep], actual[keep]
    if len(expected) == 0 or expected.sum() == 0 or actual.sum() == 0:
        return 0.0
    e = (expected + pseudo_count) / (expected.sum() + pseudo_count * len(expected))
    a = (actual + pseudo_count) / (actual.sum() + pseudo_count * len(actual))
    return float(np.sum((a - e) * np.log(a / e)))


def is_numeric(kind: str) -> bool:
    return kind in NUMERIC_KINDS


def numeric_values(series: pd.Series, kind: str) -> np.ndarray:
    """Floats with NaN for missing; datetimes as seconds since the epoch (UTC)."""
    if kind == "datetime":
        stamps = pd.to_datetime(series, errors="coerce")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        out = stamps.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float) / 1e9  # a new array
        out[stamps.isna().to_numpy()] = np.nan
        return out
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, copy=True)
    values[~np.isfinite(values)] = np.nan
    return values


def category_values(series: pd.Series) -> list[str | None]:
    """Values as the prediction API spells them (3.0 is "3"); None for missing."""
    out: list[str | None] = []
    for value in series.tolist():
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
            out.append(None)
        elif isinstance(value, float) and value.is_integer():
            out.append(str(int(value)))
        else:
            text = str(value).strip()
            out.append(text if text else None)
    return out


# ---------------------------------------------------------------- the training reference


def reference_profile(frame: pd.DataFrame, features: list[dict], *, n_bins: int = N_BINS,
                      max_categories: int = MAX_CATEGORIES) -> dict:
    """The training side of every comparison, JSON-safe: {"features": [...], "n_rows": n}."""
    profiles = []
    for feature in features:
        name, kind = feature["name"], feature.get("kind", "categorical")
        series = frame[name] if name in frame.columns else pd.Series([None] * len(frame), dtype="object")
        if is_numeric(kind):
            profiles.append(_numeric_reference(name, kind, numeric_values(series, kind), n_bins))
        else:
            profiles.append(_categorical_reference(name, kind, category_values(series), max_categories))
    return {"version": PROFILE_VERSION, "n_rows": len(frame), "features": profiles}


def _numeric_reference(name: str, kind: str, values: np.ndarray, n_bins: int) -> dict:
    present = values[~np.isnan(values)]
    if len(present):
        inner = np.quantile(present, np.linspace(0, 1, n_bins + 1)[1:-1], method="lower")  # values seen
        edges = sorted({float(e) for e in inner})
        quantiles = np.quantile(present, np.linspace(0, 1, min(N_QUANTILES, len(present))))
    else:
        edges, quantiles = [], np.array([])
    counts = _numeric_counts(values, edges)
    return {"name": name, "kind": kind, "type": "numeric", "edges": edges, "counts": counts,
            "quantiles": [float(q) for q in quantiles], "n": len(values)}


def _numeric_counts(values: np.ndarray, edges: list[float]) -> list[int]:
    """Counts per bin (x <= e1, e1 < x <= e2, ..., x > last edge) and the missing count last."""
    missing = np.isnan(values)
    bins = np.searchsorted(np.asarray(edges, dtype=float), values[~missing], side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1).tolist()
    return [int(c) for c in counts] + [int(missing.sum())]


def _categorical_reference(name: str, kind: str, values: list[str | None], max_categories: int) -> dict:
    present = pd.Series([v for v in values if v is not None], dtype="object")
    frequent = present.value_counts()
    kept = frequent.iloc[:max_categories]
    categories = [str(c) for c in kept.index]
    counts = [int(c) for c in kept.to_numpy()]
    other = int(frequent.iloc[max_categories:].sum())
    missing = len(values) - len(present)
    return {"name": name, "kind": kind, "type": "categorical", "categories": categories,
            "counts": [*counts, other, int(missing)], "n": len(values)}


# ---------------------------------------------------------------- recent against training


@dataclass
class FeatureDrift:
    name: str
    psi: float
    test: str
    p_value: float | None
    status: str
    labels: list[str] = field(default_factory=list)
    training: list[float] = field(default_factory=list)  # shares per label
    recent: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        """What the API shows for the feature."""
        return {"name": self.name, "psi": round(self.psi, 6), "test": self.test,
                "p_value": None if self.p_value is None else float(f"{self.p_value:.6g}"), "status": self.status}

    def histogram(self) -> dict:
        return {"labels": self.labels, "training": self.training, "recent": self.recent}


@dataclass
class DriftReport:
    n_samples: int
    status: str
    features: list[FeatureDrift]


def compare(profile: dict, recent: pd.DataFrame, *, min_samples: int = MIN_SAMPLES,
            n_samples: int | None = None) -> DriftReport:
    """Drift of `recent` (one column per feature) against the training `profile`.

    `n_samples` is the number of sampled rows in the window when `recent` holds only part of
    them; with fewer than `min_samples` the status is insufficient_data and no feature is compared.
    """
    n = len(recent) if n_samples is None else n_samples
    if n < min_samples or len(recent) == 0:
        return DriftReport(n_samples=n, status="insufficient_data", features=[])
    results = []
    for reference in profile["features"]:
        name = reference["name"]
        series = recent[name] if name in recent.columns else pd.Series([None] * len(recent), dtype="object")
        if reference["type"] == "numeric":
            results.append(_numeric_drift(reference, numeric_values(series, reference["kind"])))
        else:
            results.append(_categorical_drift(reference, category_values(series)))
    return DriftReport(n_samples=n, status=worst(r.status for r in results), features=results)


def _numeric_drift(reference: dict, values: np.ndarray) -> FeatureDrift:
    edges = reference["edges"]
    expected = reference["counts"]
    actual = _numeric_counts(values, edges)
    value = psi(expected, actual)
    present = values[~np.isnan(values)]
    quantiles = np.asarray(reference["quantiles"], dtype=float)
    p_value = None
    if len(present) and len(quantiles):
        p_value = float(stats.ks_2samp(quantiles, present).pvalue)
    labels = _numeric_labels(edges, reference["kind"])
    return _feature(reference["name"], value, "ks", p_value, labels, expected, actual)


def _categorical_drift(reference: dict, values: list[str | None]) -> FeatureDrift:
    categories = reference["categories"]
    index = {c: i for i, c in enumerate(categories)}
    actual = [0] * (len(categories) + 2)
    for v in values:
        actual[len(categories) + 1 if v is None else index.get(v, len(categories))] += 1
    expected = reference["counts"]
    value = psi(expected, actual)
    p_value = _chi_square(expected, actual)
    return _feature(reference["name"], value, "chi2", p_value, [*categories, OTHER, MISSING], expected, actual)


def _chi_square(expected: list[int], actual: list[int]) -> float | None:
    """p-value of the chi-square test of homogeneity of the two samples over the bins."""
    table = np.array([expected, actual], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0 if table.shape[1] == 1 else None
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def _feature(name, value, test, p_value, labels, expected, actual) -> FeatureDrift:
    """Shares per bin for the chart, dropping the bins that are empty on both sides."""
    keep = [i for i in range(len(labels)) if expected[i] or actual[i]]
    n_expected, n_actual = max(sum(expected), 1), max(sum(actual), 1)
    if p_value is not None and math.isnan(p_value):
        p_value = None
    return FeatureDrift(
        name=name, psi=value, test=test, p_value=p_value, status=psi_status(value),
        labels=[labels[i] for i in keep],
        training=[round(expected[i] / n_expected, 6) for i in keep],
        recent=[round(actual[i] / n_actual, 6) for i in keep])


def _numeric_labels(edges: list[float], kind: str) -> list[str]:
    shown = [_show(e, kind) for e in edges]
    if not shown:
        return ["all", MISSING]
    labels = [f"≤ {shown[0]}"]
    if kind == "integer" and all(float(e).is_integer() for e in edges):  # (2007, 2008] is the year 2008
        whole = [int(e) for e in edges]
        labels += [str(hi) if lo + 1 == hi else f"{lo + 1} to {hi}" for lo, hi in itertools.pairwise(whole)]
    else:
        labels += [f"{lo} to {hi}" for lo, hi in itertools.pairwise(shown)]
    labels.append(f"> {shown[-1]}")
    return [*labels, MISSING]


def _show(value: float, kind: str) -> str:
    if kind == "datetime":
        return pd.Timestamp(value, unit="s").strftime("%Y-%m-%d")
    return f"{value:.4g}"
