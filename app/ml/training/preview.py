"""What a training request will do before it runs: task, features, exclusions, class balance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.ml.training.errors import TrainingRejected
from app.ml.training.task import CLASSIFICATION, MAX_CLASSES, resolve_task

# A column whose values line up with the target this closely would leak it.
LEAK_AGREEMENT = 0.99
LEAK_CORRELATION = 0.995
# Share of class counts under which the smallest class makes the problem "imbalanced".
IMBALANCE_RATIO = 0.2
SAMPLE_FOR_CHECKS = 20_000


@dataclass
class Prepared:
    """A request resolved against its data: clean target, features and what was left out."""

    X: pd.DataFrame
    y: pd.Series
    task: str
    reason: str
    features: dict[str, str]
    excluded: list[dict]
    warnings: list[str]
    dropped_missing_target: int
    class_counts: dict | None


def _labels_agree(a: pd.Series, b: pd.Series) -> float:
    """Share of rows where each value of `a` maps to its most frequent `b` (and vice versa)."""
    frame = pd.DataFrame({"a": a.astype(str).to_numpy(), "b": b.astype(str).to_numpy()})
    ab = frame.groupby("a")["b"].agg(lambda s: s.value_counts().iloc[0]).sum()
    ba = frame.groupby("b")["a"].agg(lambda s: s.value_counts().iloc[0]).sum()
    return min(ab, ba) / len(frame)


def _is_leak(col: pd.Series, kind: str, y: pd.Series, task: str) -> bool:
    both = col.notna().to_numpy() & y.notna().to_numpy()
    if both.sum() < 10:
        return False
    col, y = col[both], y[both]
    if task == CLASSIFICATION:
        if col.nunique() > 2 * y.nunique() + 5:
            return False
        return _labels_agree(col, y) >= LEAK_AGREEMENT
    if kind not in ("integer", "float"):
        return False
    a = pd.to_numeric(col, errors="coerce").astype(float)
    b = pd.to_numeric(y, errors="coerce").astype(float)
    if a.std() == 0 or b.std() == 0:
        return False
    return abs(float(np.corrcoef(a.rank(), b.rank())[0, 1])) >= LEAK_CORRELATION


def _exclusion_reason(col: pd.Series, kind: str, y: pd.Series, task: str) -> str | None:
    values = col.dropna()
    if values.empty:
        return "all values are missing"
    n_distinct = values.nunique()
    if n_distinct <= 1:
        return "constant: every row has the same value"
    if kind == "id":
        return "id-like: a unique code per row predicts nothing"
    unique_share = n_distinct / len(values)
    if kind in ("categorical", "text") and unique_share > 0.95 and len(values) > 20:
        return "id-like: almost every row has its own value"
    if kind == "integer" and unique_share == 1.0 and len(values) > 20:
        diffs = np.diff(np.sort(values.to_numpy(dtype=float)))
        if np.all(diffs == 1):
            return "id-like: a running number"
    if kind == "text":
        return "free text is not used by the models yet"
    if _is_leak(col, kind, y, task):
        return "a near-copy of the target: it would leak the answer"
    return None


def _class_labels(y: pd.Series, kind: str) -> pd.Series:
    """Labels as the file spells them: ints stay ints, numbers stay numbers, others strings."""
    if kind == "integer":
        return y.astype("int64")
    if kind == "float":
        return y.astype("float64")
    return y.astype(str).astype(object)


def prepare(df: pd.DataFrame, kinds: dict, target: str, task: str | None = None,
            exclude_columns: list[str] | None = None) -> Prepared:
    """Resolve target, task and features; raise TrainingRejected when nothing can be trained."""
    if target not in df.columns:
        raise TrainingRejected(f"There is no column named {target!r}.",
                               {"target": ["unknown column"]})
    unknown = sorted(set(exclude_columns or []) - set(df.columns))
    if unknown:
        raise TrainingRejected("Some excluded columns do not exist.",
                               {"exclude_columns": [f"unknown column {c!r}" for c in unknown]})
    kind = kinds.get(target, "categorical")
    keep = df[target].notna().to_numpy()
    dropped = int((~keep).sum())
    data = df.loc[keep].reset_index(drop=True)
    y = data[target]
    if y.empty:
        raise TrainingRejected("The target column has no values.", {"target": ["all missing"]})
    task, reason = resolve_task(y, kind, task)
    warnings, class_counts = [], None
    if dropped:
        warnings.append(f"{dropped} rows without a {target} value are left out.")
    if task == CLASSIFICATION:
        y = _class_labels(y, kind)
        counts = y.value_counts()
        class_counts = {str(k): int(v) for k, v in counts.items()}
        if len(counts) < 2:
            raise TrainingRejected("The target has a single class: there is nothing to predict.",
                                   {"target": ["one class"]})
        if len(counts) > MAX_CLASSES:
            raise TrainingRejected(f"The target has {len(counts)} classes (at most {MAX_CLASSES}).",
                                   {"target": ["too many classes"]})
        small = [str(k) for k, v in counts.items() if v < 2]
        if small:
            raise TrainingRejected(
                f"Some classes have fewer than 2 rows: {', '.join(small[:5])}.",
                {"target": [f"class {k!r} has 1 row" for k in small[:20]]})
        if counts.iloc[-1] / counts.iloc[0] < IMBALANCE_RATIO:
            warnings.append("The classes are imbalanced: balanced accuracy is worth a look "
                            "(with it, F1 or ROC AUC as the metric, balanced class weights "
                            "are tried too).")
    else:
        y = pd.to_numeric(y, errors="coerce").astype(float)
    checks = data.sample(min(len(data), SAMPLE_FOR_CHECKS), random_state=0)
    features, excluded = {}, []
    for name in data.columns:
        if name == target:
            continue
        col_kind = kinds.get(name, "categorical")
        if name in (exclude_columns or []):
            excluded.append({"name": name, "reason": "excluded by you"})
            continue
        why = _exclusion_reason(checks[name], col_kind, checks[target], task)
        if why:
            excluded.append({"name": name, "reason": why})
        else:
            features[name] = col_kind
    if not features:
        raise TrainingRejected("No column is usable as a feature.",
                               {"exclude_columns": ["no usable feature left"]})
    if len(data) < 50:
        warnings.append(f"Only {len(data)} rows: scores will be noisy.")
    return Prepared(data[list(features)], y.reset_index(drop=True), task, reason, features,
                    excluded, warnings, dropped, class_counts)


def preview_training(df: pd.DataFrame, kinds: dict, target: str, task: str | None = None,
                     exclude_columns: list[str] | None = None) -> dict:
    """The preview the user sees before starting a job (see API.md, training preview)."""
    p = prepare(df, kinds, target, task, exclude_columns)
    out = {
        "task": p.task, "reason": p.reason,
        "features": [{"name": n, "kind": k} for n, k in p.features.items()],
        "excluded": p.excluded, "warnings": p.warnings,
        "dropped_missing_target": p.dropped_missing_target,
    }
    if p.class_counts is not None:
        out["class_counts"] = p.class_counts
    return out
