"""`make bench`: run every benchmark (or those named: `python -m bench ingest pollock`).

Each benchmark measures CSV Analyzer against a named reference in the same run and
prints ratios; see bench/README.md for the latest figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "pollock": HERE / "pollock" / "score.py",
    "ingest": HERE / "ingest" / "run.py",
    "explore": HERE / "data" / "bench_explore.py",
    "automl": HERE / "automl" / "run.py",
    "serve": HERE / "serve" / "run.py",
    "load": HERE / "load" / "run.py",
}


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    failed = 0
    for name in names or list(BENCHMARKS):
        script = BENCHMARKS[name]
        if not script.exists():
            print(f"== {name}: {script.relative_to(HERE.parent)} is missing, skipped")
            continue
        print(f"== {name}", flush=True)
        failed += subprocess.call([sys.executable, str(script)], cwd=HERE.parent) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
