"""Benchmark our AutoML engine against FLAML and AutoGluon (medium_quality, best_quality).

    .venv/bin/python bench/automl/run.py            # all datasets, 60 s each (~45 min)
    .venv/bin/python bench/automl/run.py --quick    # 4 small datasets, 15 s each

Every system gets the same train part, budget and metric (accuracy / R²); all are scored on
the same test part. Errors (1 - accuracy, 1 - R²) are compared as ratios to the best
reference, then summarised as a geometric mean. AutoGluon runs in its own virtual
environment (AUTOGLUON_PYTHON, default .bench-venv/bin/python) through autogluon_worker.py;
without it its columns say "not installed" and the rest still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

from datasets import DATASETS, QUICK, as_app_frame, kinds_of  # noqa: E402

from app.ml.training import SearchRequest, run_search  # noqa: E402


def split(df, target, task, seed=0):
    strat = df[target] if task == "classification" else None
    return train_test_split(df, test_size=0.25, random_state=seed, stratify=strat)


def error(task, y_true, y_pred) -> float:
    if task == "classification":
        return 1.0 - accuracy_score(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str))
    return 1.0 - r2_score(np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float))


def run_ours(train, test, target, task, kinds, budget):
    started = time.monotonic()
    result = run_search(train, kinds, SearchRequest(target=target, task=task,
                                                    time_budget_s=budget, seed=0),
                        on_progress=lambda p: None, should_stop=lambda: False)
    elapsed = time.monotonic() - started
    pred = result.best.pipeline.predict(test.drop(columns=[target]))
    return {"error": error(task, test[target], pred), "seconds": elapsed,
            "model": result.best_family, "candidates": len(result.candidates)}


def _flaml_frame(df):
    out = df.copy()
    for name, col in out.items():
        if col.dtype == object or pd.api.types.is_string_dtype(col):
            out[name] = col.astype(object).astype("category")
        elif pd.api.types.is_integer_dtype(col):
            out[name] = col.astype("float64")
    return out


def run_flaml(train, test, target, task, budget):
    from flaml import AutoML
    automl = AutoML()
    y = train[target].astype(str) if task == "classification" else train[target].astype(float)
    started = time.monotonic()
    automl.fit(_flaml_frame(train.drop(columns=[target])), y.to_numpy(), task=task,
               metric="accuracy" if task == "classification" else "r2",
               time_budget=budget, seed=0, verbose=0)
    elapsed = time.monotonic() - started
    pred = automl.predict(_flaml_frame(test.drop(columns=[target])))
    return {"error": error(task, test[target], pred), "seconds": elapsed,
            "model": automl.best_estimator}


AG_PRESETS = {"autogluon_medium": "medium_quality", "autogluon_best": "best_quality"}
AG_WORKER = Path(__file__).with_name("autogluon_worker.py")


def autogluon_python() -> Path | None:
    """The interpreter of AutoGluon's own venv, or None when it is not installed."""
    python = Path(os.environ.get("AUTOGLUON_PYTHON", ROOT / ".bench-venv" / "bin" / "python"))
    return python if python.exists() else None


def _ag_frame(df):
    """Plain dtypes for the other venv's pandas: nullable integers become floats."""
    out = df.copy()
    for name, col in out.items():
        if pd.api.types.is_integer_dtype(col):
            out[name] = col.astype("float64")
        elif not pd.api.types.is_numeric_dtype(col):
            out[name] = col.astype(object)
    return out


def run_autogluon(python, train, test, target, task, budget, preset):
    """Fit AutoGluon in its venv on the same parts; a failure is recorded, not raised."""
    if python is None:
        return {"error": None, "status": "not installed"}
    train, test = _ag_frame(train), _ag_frame(test)
    if task == "classification":
        train[target] = train[target].astype(str)
        problem = "binary" if train[target].nunique() == 2 else "multiclass"
    else:
        problem = "regression"
    with tempfile.TemporaryDirectory(prefix="ag-split-") as tmp:
        train.to_parquet(Path(tmp, "train.parquet"))
        test.drop(columns=[target]).to_parquet(Path(tmp, "test.parquet"))
        started = time.monotonic()
        try:
            done = subprocess.run(
                [str(python), str(AG_WORKER), str(Path(tmp, "train.parquet")),
                 str(Path(tmp, "test.parquet")), "--target", target, "--problem-type", problem,
                 "--eval-metric", "accuracy" if task == "classification" else "r2",
                 "--preset", preset, "--time-limit", f"{budget:g}", "--num-cpus", "2"],
                capture_output=True, text=True, timeout=budget * 4 + 120, cwd=tmp)
        except subprocess.TimeoutExpired:
            return {"error": None, "status": "timed out"}
        wall = time.monotonic() - started
    if done.returncode != 0:
        return {"error": None, "status": "failed: " + done.stderr.strip()[-300:]}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {"error": error(task, test[target], out["predictions"]), "seconds": out["seconds"],
            "wall_seconds": wall, "model": out["model"],
            "dystack_retried": out.get("dystack_retried", False)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 small datasets, 15 s budget")
    parser.add_argument("--budget", type=float, default=None)
    parser.add_argument("--only", nargs="*", default=None, help="dataset names")
    parser.add_argument("--skip-flaml", action="store_true")
    parser.add_argument("--skip-autogluon", action="store_true")
    parser.add_argument("--refs", default=None,
                        help="run only ours; take FLAML/AutoGluon errors from this JSON-lines "
                             "file of an earlier run (not a same-run comparison)")
    parser.add_argument("--out", default=None, help="append one JSON line per dataset here")
    parser.add_argument("--table", nargs="*", default=None,
                        help="only print the table of these JSON-lines files")
    args = parser.parse_args(argv)
    if args.table:
        rows = [json.loads(line) for f in args.table for line in Path(f).read_text().splitlines()
                if line.startswith("{")]
        print_table(rows, args.budget or 60)
        return
    budget = args.budget or (15 if args.quick else 60)
    names = args.only or (list(QUICK) if args.quick else list(DATASETS))
    ag_python = autogluon_python()
    stored = {}
    if args.refs:
        stored = {r["dataset"]: r for r in map(json.loads, Path(args.refs).read_text().splitlines())}
        print(f"NOTE: only ours runs now; reference errors are copied from {args.refs} "
              "(another run, other load): ratios are indicative, not a same-run comparison.",
              flush=True)
    rows = []
    for name in names:
        df, target, task = DATASETS[name]()
        kinds = kinds_of(df)
        df = as_app_frame(df, kinds)
        df = df[df[target].notna()].reset_index(drop=True)  # unlabeled rows cannot be scored
        train, test = split(df, target, task)
        row = {"dataset": name, "task": task, "rows": len(df), "cols": df.shape[1] - 1}
        load = os.getloadavg()[0]
        row["ours"] = run_ours(train, test, target, task, kinds, budget)
        row["ours"]["load_before"] = round(load, 2)
        row["ours"]["load_after"] = round(os.getloadavg()[0], 2)
        if args.refs:
            row["refs_from"] = args.refs
            for key in ("flaml", *AG_PRESETS):
                if key in stored.get(name, {}):
                    row[key] = stored[name][key]
        elif not args.skip_flaml:
            row["flaml"] = run_flaml(train, test, target, task, budget)
        if not args.skip_autogluon and not args.refs:
            for key, preset in AG_PRESETS.items():
                row[key] = run_autogluon(ag_python, train, test, target, task, budget, preset)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as out:
                out.write(json.dumps(row) + "\n")
    print_table(rows, budget)
    if args.refs:
        print(f"(references copied from {args.refs}, not measured in this run)")


def _cell(result):
    if result.get("error") is not None:
        return f"{result['error']:.4f}"
    return result["status"].split(":")[0]  # the full message stays in the JSON line


def print_table(rows, budget):
    refs = [k for k in ("flaml", "autogluon_medium", "autogluon_best")
            if any(k in r for r in rows)]
    head = ["dataset", "task", "rows", "ours err", *[f"{r} err" for r in refs], "ratio",
            "ours s", "ours model"]
    print(f"\nBudget {budget:g} s per system and dataset; error = 1-accuracy or 1-R²; "
          "ratio = ours / best reference\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    ratios = []
    for r in rows:
        errors = [r[k]["error"] for k in refs if k in r and r[k].get("error") is not None]
        ratio = (max(r["ours"]["error"], 1e-4) / max(min(errors), 1e-4)) if errors \
            else float("nan")
        if errors:
            ratios.append(ratio)
        cells = [r["dataset"], r["task"][:5], str(r["rows"]), f"{r['ours']['error']:.4f}",
                 *[_cell(r[k]) if k in r else "-" for k in refs], f"{ratio:.3f}",
                 f"{r['ours']['seconds']:.1f}", r["ours"]["model"]]
        print("| " + " | ".join(cells) + " |")
    if ratios:
        gmean = float(np.exp(np.mean(np.log(ratios))))
        print(f"\nGeometric mean of error ratios (ours / best reference) over {len(ratios)} "
              f"datasets: {gmean:.3f}; worst: {max(ratios):.3f}")


if __name__ == "__main__":
    main()
