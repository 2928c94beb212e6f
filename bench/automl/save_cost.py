"""Calibrate app.ml.training.costs: seconds to save tree models through MLflow (skops).

    .venv/bin/python bench/automl/save_cost.py

Fits forests, extra trees, gradient boosting and a tree on two benchmark datasets (20,000
rows at most), saves each with MlflowTracker.log_model into a temporary SQLite store, and
prints trees, nodes, measured seconds and the estimate, then a least-squares fit of
seconds = fixed + a x trees + b x nodes.
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

from datasets import DATASETS, as_app_frame, kinds_of  # noqa: E402

from app.ml.tracking import MlflowTracker  # noqa: E402
from app.ml.training.candidates import fit_limited, make_pipeline  # noqa: E402
from app.ml.training.costs import save_seconds, tree_size  # noqa: E402
from app.ml.training.families import CLASSIFIERS, REGRESSORS  # noqa: E402
from app.ml.training.preprocessing import category_cardinality  # noqa: E402
from app.ml.training.preview import prepare  # noqa: E402

CONFIGS = [("hist_gradient_boosting", {"max_leaf_nodes": 31}, 100),
           ("hist_gradient_boosting", {"max_leaf_nodes": 127}, 300),
           ("hist_gradient_boosting", {"max_leaf_nodes": 15}, 600),
           ("random_forest", {"n_estimators": 100, "min_samples_leaf": 5}, 0),
           ("random_forest", {"n_estimators": 250}, 0),
           ("extra_trees", {"n_estimators": 150}, 0),
           ("decision_tree", {}, 0)]


def main():
    warnings.filterwarnings("ignore")
    store = tempfile.mkdtemp()
    tracker = MlflowTracker(f"sqlite:///{store}/mlflow.db", store + "/artifacts")
    parent = tracker.start_job("save cost", {}, {})
    rows = []
    for name, registry in (("txhousing", REGRESSORS), ("diamonds_cut", CLASSIFIERS)):
        df, target, task = DATASETS[name]()
        kinds = kinds_of(df)
        df = as_app_frame(df, kinds).head(20_000)
        df = df[df[target].notna()]
        prep = prepare(df, kinds, target, task, None)
        cardinality = category_cardinality(prep.X, prep.features)
        X, y = prep.X, prep.y.to_numpy()
        warm = registry["decision_tree"]
        tracker.log_model(parent, "warm-up", fit_limited(make_pipeline(
            warm, dict(warm.defaults), 0, prep.features, cardinality, task, len(X)), X, y),
            X.head(5), {}, {}, {})
        for family, params, iterations in CONFIGS:
            fam = registry[family]
            pipe = make_pipeline(fam, {**fam.defaults, **params}, 0, prep.features,
                                 cardinality, task, len(X))
            if iterations:
                pipe.set_params(model__max_iter=iterations, model__early_stopping=False)
            fit_limited(pipe, X, y)
            started = time.perf_counter()
            tracker.log_model(parent, family, pipe, X.head(5), {}, {}, {})
            seconds = time.perf_counter() - started
            trees, nodes = tree_size(pipe[-1])
            rows.append((trees, nodes, seconds))
            print(f"{name:13s} {family:23s} {params!s:32s} trees {trees:5d} nodes "
                  f"{nodes:9d} saved in {seconds:5.2f} s, estimate {save_seconds(pipe):5.2f} s",
                  flush=True)
    A = np.array([[1.0, t, n] for t, n, _ in rows])
    fixed, per_tree, per_node = np.linalg.lstsq(A, np.array([s for *_, s in rows]), rcond=None)[0]
    print(f"fit: {fixed:.2f} s + {per_tree * 1e3:.2f} ms per tree + {per_node * 1e6:.2f} us per node")


if __name__ == "__main__":
    main()
