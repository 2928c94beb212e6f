"""Fit AutoGluon on one train part and predict the test part; runs inside .bench-venv.

    .bench-venv/bin/python bench/automl/autogluon_worker.py TRAIN.parquet TEST.parquet \
        --target y --problem-type multiclass --eval-metric accuracy --preset medium_quality

AutoGluon is heavy and pins its own pandas, so it lives in its own virtual environment and
`run.py` calls this script once per dataset and preset. Prints one JSON object on the last
line of stdout: test predictions, fit seconds and the best model's name. Model folders go
to a temporary directory that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time

import pandas as pd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--target", required=True)
    parser.add_argument("--problem-type", required=True,
                        choices=("binary", "multiclass", "regression"))
    parser.add_argument("--eval-metric", required=True, choices=("accuracy", "r2"))
    parser.add_argument("--preset", default="medium_quality")
    parser.add_argument("--time-limit", type=float, default=60)
    parser.add_argument("--num-cpus", type=int, default=2)
    args = parser.parse_args(argv)

    from autogluon.tabular import TabularPredictor

    train = pd.read_parquet(args.train)
    test = pd.read_parquet(args.test).drop(columns=[args.target], errors="ignore")
    folder = tempfile.mkdtemp(prefix="ag-bench-")
    started = time.monotonic()
    retried = False

    def fit(time_limit, **extra):
        predictor = TabularPredictor(label=args.target, problem_type=args.problem_type,
                                     eval_metric=args.eval_metric, path=folder, verbosity=0)
        return predictor.fit(train, presets=args.preset, time_limit=time_limit,
                             num_cpus=args.num_cpus, **extra)

    try:
        try:
            predictor = fit(args.time_limit)
        except AssertionError:
            # AutoGluon 1.6.3: when best_quality's DyStack sub-fit trains no model in its
            # quarter of the budget, the fallback full fit raises "Learner is already fit".
            # Do what that fallback means to do: a plain fit in the time that is left.
            retried = True
            shutil.rmtree(folder, ignore_errors=True)
            left = max(args.time_limit - (time.monotonic() - started), 5.0)
            predictor = fit(left, dynamic_stacking=False)
        fit_s = time.monotonic() - started
        pred = predictor.predict(test)
        best = predictor.model_best
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"predictions": pred.tolist(), "seconds": fit_s, "model": best,
                      "dystack_retried": retried}))


if __name__ == "__main__":
    main()
