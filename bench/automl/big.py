"""Time check: a 100,000 x 20 dataset must get a full leaderboard within a 60 s budget.

    .venv/bin/python bench/automl/big.py [--rows 100000] [--budget 60] [--mlflow DIR]

Prints elapsed seconds (limit: budget + 10 % + 5 s), the leaderboard and the families kept.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.ml.training import SearchRequest, run_search


def make(rows: int, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    data, kinds = {}, {}
    for i in range(14):
        data[f"num{i}"] = rng.normal(size=rows)
        kinds[f"num{i}"] = "float"
    for i in range(3):
        data[f"int{i}"] = pd.array(rng.integers(0, 100, rows), dtype="Int64")
        kinds[f"int{i}"] = "integer"
    data["city"] = rng.choice([f"city{i}" for i in range(300)], rows).astype(object)
    data["plan"] = rng.choice(["basic", "plus", "pro"], rows).astype(object)
    data["joined"] = pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, rows), "D")
    kinds.update(city="categorical", plan="categorical", joined="datetime")
    logit = (data["num0"] + 0.5 * data["num1"] ** 2 - data["num2"] * data["num3"]
             + (data["plan"] == "pro") - 1)
    data["churn"] = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    kinds["churn"] = "boolean"
    frame = pd.DataFrame(data)
    frame.loc[rng.random(rows) < 0.05, "num4"] = np.nan
    return frame, kinds


VERBOSE = bool(os.environ.get("VERBOSE"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--mlflow", action="store_true", help="track in a temporary MLflow store")
    args = parser.parse_args()
    frame, kinds = make(args.rows)
    tracker = None
    if args.mlflow:
        from app.ml.tracking import MlflowTracker
        tmp = tempfile.mkdtemp()
        tracker = MlflowTracker(f"sqlite:///{tmp}/mlflow.db", f"{tmp}/artifacts")
    beats = []
    started = time.monotonic()
    result = run_search(frame, kinds, SearchRequest(target="churn", time_budget_s=args.budget,
                                                    registered_name="big-churn"),
                        on_progress=lambda p: (beats.append(time.monotonic()), VERBOSE and print(f"{beats[-1] - started:5.1f}s {p.get('message')}", flush=True)),
                        should_stop=lambda: False, tracker=tracker)
    elapsed = time.monotonic() - started
    gaps = np.diff([started, *beats])
    print(f"elapsed {elapsed:.1f} s (limit {args.budget * 1.1 + 5:.1f}); "
          f"longest progress gap {gaps.max():.2f} s; candidates {len(result.candidates)}")
    for row in result.leaderboard:
        print(f"  {row['algorithm']:60s} cv {row['cv_score']:.4f} test {row['test_score']:.4f}"
              f" fit {row['fit_time_s']:.1f} s")
    print("warnings:", result.warnings)


if __name__ == "__main__":
    main()
