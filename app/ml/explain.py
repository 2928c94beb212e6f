"""Reasons for one prediction: which inputs pushed it up or down, for any model family.

Model-agnostic occlusion against a background sample of training rows: a feature's effect
is the prediction for the row minus the mean prediction with that feature replaced by the
background's values (the chance of the predicted class, or the predicted number). One
batched predict call per chunk of rows keeps a single row well under a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOP_REASONS = 5
CELLS_PER_CALL = 50_000


def _scores(model, frame: pd.DataFrame, task: str, class_index: np.ndarray | None) -> np.ndarray:
    if task == "classification":
        proba = model.predict_proba(frame)
        return proba[np.arange(len(frame)), class_index]
    return np.asarray(model.predict(frame), dtype=float)


def explain(model, frame: pd.DataFrame, background: pd.DataFrame, task: str,
            predictions: list, top: int = TOP_REASONS) -> list[list[dict]]:
    """For each row, its `top` features by absolute effect: [{feature, value, effect, text}]."""
    features = list(frame.columns)
    background = background[features].reset_index(drop=True)
    n_bg, n_feat = len(background), len(features)
    if n_bg == 0 or n_feat == 0:
        return [[] for _ in range(len(frame))]
    classes = list(getattr(model, "classes_", [])) if task == "classification" else []
    rows_per_call = max(1, CELLS_PER_CALL // (n_bg * n_feat))
    out: list[list[dict]] = []
    for start in range(0, len(frame), rows_per_call):
        chunk = frame.iloc[start:start + rows_per_call].reset_index(drop=True)
        out.extend(_explain_chunk(model, chunk, background, task, classes,
                                  predictions[start:start + len(chunk)], top))
    return out


def _explain_chunk(model, chunk, background, task, classes, predictions, top):
    n_rows, n_bg, features = len(chunk), len(background), list(chunk.columns)
    # rows x features x background copies of the row, each with one feature from the background
    repeated = chunk.loc[chunk.index.repeat(len(features) * n_bg)].reset_index(drop=True)
    for j, name in enumerate(features):
        positions = (np.arange(n_rows)[:, None] * len(features) * n_bg + j * n_bg
                     + np.arange(n_bg)[None, :]).ravel()
        repeated.loc[positions, name] = np.tile(background[name].to_numpy(), n_rows)
    class_index = None
    own_index = None
    if task == "classification":
        lookup = {c: i for i, c in enumerate(classes)}
        own_index = np.array([lookup.get(p, 0) for p in predictions])
        class_index = np.repeat(own_index, len(features) * n_bg)
    own = _scores(model, chunk, task, own_index)
    swapped = _scores(model, repeated, task, class_index).reshape(n_rows, len(features), n_bg).mean(axis=2)
    effects = own[:, None] - swapped
    result = []
    for i in range(n_rows):
        order = np.argsort(-np.abs(effects[i]))[:top]
        result.append([_reason(features[j], chunk.iloc[i][features[j]], float(effects[i, j]), task,
                               predictions[i]) for j in order if abs(effects[i, j]) > 1e-9])
    return result


def _shown(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def _reason(feature: str, value, effect: float, task: str, prediction) -> dict:
    shown = _shown(value)
    if task == "classification":
        direction = "raised" if effect > 0 else "lowered"
        text = f"{feature} = {shown} {direction} the chance of '{prediction}' by {abs(effect) * 100:.1f} points"
    else:
        direction = "raised" if effect > 0 else "lowered"
        text = f"{feature} = {shown} {direction} the prediction by {abs(effect):,.4g}"
    plain = None if shown == "missing" else (value.isoformat() if isinstance(value, pd.Timestamp) else
                                              value.item() if isinstance(value, np.generic) else value)
    return {"feature": feature, "value": plain, "effect": round(effect, 6), "text": text}
