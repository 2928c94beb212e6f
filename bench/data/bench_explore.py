"""Browse and profile benchmarks of the explore engine on a generated 1M x 20 mixed dataset.

Run: .venv/bin/python bench/data/bench_explore.py [--rows N] [--repeats R] [--write-readme]
Times are medians on a shared machine; the ratios against references measured in the same
run (polars, ydata-profiling) are the figures to read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import DEFAULT_PATH, ensure_dataset

from app.ml.explore import query_rows
from app.ml.explore.dataset_file import PAGE_SIZE, ROW_GROUP_SIZE
from app.ml.ingest.pipeline import DICTIONARY_MAX
from app.ml.profile import profile_dataset

HERE = Path(__file__).resolve().parent
GROUPED = f"{ROW_GROUP_SIZE:,}-row groups, {PAGE_SIZE >> 10} kB pages"
YDATA_PYTHON = os.environ.get("YDATA_PYTHON", "/tmp/ydata-venv/bin/python")
BROWSE_CASES = [
    ("first page, file order", {}),
    ("sort age (integer) asc", {"sort": "age"}),
    ("sort age desc", {"sort": "age", "order": "desc"}),
    ("sort income (float) asc", {"sort": "income"}),
    ("sort income desc", {"sort": "income", "order": "desc"}),
    ("sort country (categorical)", {"sort": "country"}),
    ("sort signup (datetime) desc", {"sort": "signup", "order": "desc"}),
    ("sort customer_id (id)", {"sort": "customer_id"}),
    ("sort comment (text)", {"sort": "comment"}),
    ("filter comment contains 'bravo'", {"filters": ["comment:contains:bravo"]}),
    (
        "filter comment contains + sort income",
        {"filters": ["comment:contains:bravo"], "sort": "income"},
    ),
    ("search q='bravo charlie'", {"q": "bravo charlie"}),
    ("search q='lima' + sort age desc", {"q": "lima", "sort": "age", "order": "desc"}),
    ("filter income > 50000 + sort signup", {"filters": ["income:>:50000"], "sort": "signup"}),
    ("sort income, page at offset 500,000", {"sort": "income", "offset": 500_000}),
]


def median_ms(fn, repeats: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms of this process, all threads): CPU time is what a
    request costs whatever else the machine runs; wall time is what a user waits."""
    fn()  # warm the file cache and DuckDB's metadata cache
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def bench_browse(path: Path, repeats: int) -> list[tuple[str, tuple[float, float]]]:
    return [
        (label, median_ms(lambda kw=kw: query_rows(path, limit=50, **kw), repeats))
        for label, kw in BROWSE_CASES
    ]


def polars_profile(path: Path, frame=None):
    """The same statistics as profile_dataset in one polars select over the loaded frame."""
    import polars as pl

    df = pl.read_parquet(path) if frame is None else frame
    kinds = json.loads(pq.read_schema(path).metadata[b"csv_analyzer.kinds"])
    numeric = [c for c, k in kinds.items() if k in ("integer", "float")]
    exprs = [pl.struct(pl.all()).is_duplicated().sum().alias("__dups")]
    for c, kind in kinds.items():
        e = pl.col(c).fill_nan(None) if kind == "float" else pl.col(c)
        exprs += [
            e.null_count().alias(f"{c}__missing"),
            e.drop_nulls().n_unique().alias(f"{c}__unique"),
        ]
        if kind in ("integer", "float", "datetime"):
            exprs += [
                e.min().alias(f"{c}__min"),
                e.max().alias(f"{c}__max"),
                e.quantile(0.25).alias(f"{c}__q1"),
                e.median().alias(f"{c}__median"),
                e.quantile(0.75).alias(f"{c}__q3"),
                (e.dt.epoch("us") if kind == "datetime" else e)
                .hist(bin_count=20)
                .implode()
                .alias(f"{c}__hist"),
            ]
        if kind in ("integer", "float"):
            exprs += [
                e.mean().alias(f"{c}__mean"),
                e.std().alias(f"{c}__std"),
                e.skew().alias(f"{c}__skew"),
            ]
        if kind in ("categorical", "boolean"):
            exprs.append(
                e.drop_nulls().value_counts(sort=True).head(10).implode().alias(f"{c}__top")
            )
        if kind in ("categorical", "boolean", "text", "id"):
            n = e.str.len_chars()
            exprs += [
                n.min().alias(f"{c}__lmin"),
                n.max().alias(f"{c}__lmax"),
                n.mean().alias(f"{c}__lmean"),
            ]
    for i, a in enumerate(numeric):
        for b in numeric[i + 1 :]:
            exprs.append(
                pl.corr(pl.col(a).fill_nan(None), pl.col(b).fill_nan(None)).alias(f"{a}__{b}")
            )
    return df.select(exprs)


def bench_profile(path: Path, repeats: int) -> dict:
    import polars as pl

    ours, ref_select, ref_total, ours_cpu, ref_cpu = [], [], [], [], []
    for _ in range(repeats):  # interleaved, so both sides see the same machine load
        start, cpu = time.perf_counter(), time.process_time()
        profile_dataset(path)
        ours.append(time.perf_counter() - start)
        ours_cpu.append(time.process_time() - cpu)
        start = time.perf_counter()
        frame = pl.read_parquet(path)
        loaded, cpu = time.perf_counter(), time.process_time()
        polars_profile(path, frame)
        ref_total.append(time.perf_counter() - start)
        ref_select.append(time.perf_counter() - loaded)
        ref_cpu.append(time.process_time() - cpu)
        del frame
    return {
        "ours": statistics.median(ours),
        "polars_select": statistics.median(ref_select),
        "polars_load_and_select": statistics.median(ref_total),
        "ours_cpu": statistics.median(ours_cpu),
        "polars_select_cpu": statistics.median(ref_cpu),
    }


def bench_ydata(path: Path, n_rows: int) -> float | None:
    """ydata-profiling (minimal mode) on the first n_rows, in its own venv; None when absent."""
    if not Path(YDATA_PYTHON).exists():
        return None
    sample = path.with_name(f"{path.stem}_first_{n_rows}.parquet")
    if not sample.exists():
        pq.write_table(pq.read_table(path).slice(0, n_rows), sample)
    code = (
        "import sys, time, warnings; warnings.filterwarnings('ignore');"
        "import pandas as pd; from ydata_profiling import ProfileReport;"
        f"df = pd.read_parquet({str(sample)!r}); s = time.perf_counter();"
        "ProfileReport(df, minimal=True, progress_bar=False).to_json();"
        "print(time.perf_counter() - s)"
    )
    out = subprocess.run([YDATA_PYTHON, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--ydata-rows", type=int, default=100_000)
    ap.add_argument("--write-readme", action="store_true")
    ap.add_argument("--only", choices=("browse", "profile"), help="run one half (no README)")
    args = ap.parse_args()

    single = ensure_dataset(DEFAULT_PATH.with_name(f"explore_{args.rows}.parquet"), args.rows)
    # the layout ingest and operations write: row groups, small pages with a page index
    grouped = single.with_name(f"explore_{args.rows}_rg{ROW_GROUP_SIZE}_p{PAGE_SIZE}_dict.parquet")
    if not grouped.exists():
        table = pq.read_table(single)
        few = [  # dictionaries only for columns of few distinct values, as ingest decides
            c for c in table.column_names
            if pc.count_distinct(table.column(c)).as_py() <= DICTIONARY_MAX
        ]
        pq.write_table(table, grouped, row_group_size=ROW_GROUP_SIZE, data_page_size=PAGE_SIZE,
                       write_page_index=True, use_dictionary=few)
    load = os.getloadavg()[0]
    print(
        f"dataset: {args.rows:,} rows x 20 columns; load average {load:.1f} on {os.cpu_count()} cores"
    )

    browse = (
        {}
        if args.only == "profile"
        else {
            "one row group": bench_browse(single, args.repeats),
            GROUPED: bench_browse(grouped, args.repeats),
        }
    )
    layouts = list(browse)
    print(
        f"\n{'query_rows, 50-row page (median ms wall / cpu)':45}"
        + "".join(f"{k:>22}" for k in layouts)
    )
    for i, (label, _) in enumerate(BROWSE_CASES if browse else []):
        print(
            f"{label:45}"
            + "".join(f"{browse[k][i][1][0]:14.0f} / {browse[k][i][1][1]:5.0f}" for k in layouts)
        )

    if args.only == "browse":
        return
    profiles = {
        k: bench_profile(p, max(3, args.repeats // 2))
        for k, p in (("one row group", single), (GROUPED, grouped))
    }
    ydata = None if args.only else bench_ydata(single, args.ydata_rows)
    ydata_full = ydata * args.rows / args.ydata_rows if ydata else None
    print("\nprofile_dataset vs references (median s)")
    for k, r in profiles.items():
        print(
            f"  {k}: ours {r['ours']:.2f}  polars select {r['polars_select']:.2f} "
            f"(x{r['polars_select'] / r['ours']:.2f})  polars load+select "
            f"{r['polars_load_and_select']:.2f} (x{r['polars_load_and_select'] / r['ours']:.2f})  "
            f"CPU s ours {r['ours_cpu']:.2f} polars select {r['polars_select_cpu']:.2f}"
        )
        if ydata_full:
            print(
                f"    ydata-profiling minimal: {ydata:.1f} s on {args.ydata_rows:,} rows -> "
                f"~{ydata_full:.0f} s extrapolated (x{ydata_full / r['ours']:.0f} ours)"
            )
    if args.write_readme and not args.only:
        write_readme(args, load, browse, profiles, ydata, ydata_full)


def write_readme(args, load, browse, profiles, ydata, ydata_full) -> None:
    layouts = list(browse)
    lines = [
        "# Explore benchmarks (`bench/data/`)",
        "",
        "`.venv/bin/python bench/data/bench_explore.py --write-readme` generates (once, under",
        "`$BENCH_DIR`, default `/tmp/csv_analyzer_bench`) a 1,000,000 x 20 mixed Parquet version",
        "(5 integer, 6 float, 2 boolean, 3 categorical, 2 datetime, 1 text, 1 id column, with",
        "missing values), then times `query_rows` and `profile_dataset` against references run",
        "in the same process, on two layouts: one row group per file (pyarrow's default) and what",
        f"ingest and `apply_operation` write ({GROUPED}, with a page index).",
        "",
        f"Last run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.rows:,} rows, "
        f"2 shared cores, load average {load:.1f} at start (other engineers' jobs: expect noise).",
        "",
        f"## Browse: `query_rows`, 50-row page, median of {args.repeats} (ms; goal: wall < 150)",
        "",
        "Wall is what a user waits; CPU is this process's CPU time over all its threads, the",
        "request's own cost whatever else the machine runs (on an idle 2-core machine the wall",
        "time of a parallel scan approaches CPU / 2, of a one-row-group scan CPU).",
        "",
        "| case | " + " | ".join(f"{k}: wall | CPU" for k in layouts) + " |",
        "|---|" + "---:|---:|" * len(layouts),
    ]
    for i, (label, _) in enumerate(BROWSE_CASES):
        cells = " | ".join(f"{browse[k][i][1][0]:.0f} | {browse[k][i][1][1]:.0f}" for k in layouts)
        lines.append(f"| {label} | {cells} |")
    lines += [
        "",
        "## Profile: `profile_dataset` (seconds, median; ratio = reference / ours)",
        "",
        "| layout | ours | polars select | ratio | polars load+select | ratio "
        "| CPU ours | CPU polars select | ratio | ydata-profiling minimal (extrapolated) | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, r in profiles.items():
        yd = (
            f"{ydata_full:.0f} | x{ydata_full / r['ours']:.0f}"
            if ydata_full
            else "not measured | -"
        )
        lines.append(
            f"| {k} | {r['ours']:.2f} | {r['polars_select']:.2f} | x{r['polars_select'] / r['ours']:.2f} | "
            f"{r['polars_load_and_select']:.2f} | x{r['polars_load_and_select'] / r['ours']:.2f} | "
            f"{r['ours_cpu']:.2f} | {r['polars_select_cpu']:.2f} | "
            f"x{r['polars_select_cpu'] / r['ours_cpu']:.2f} | {yd} |"
        )
    if ydata:
        lines += [
            "",
            f"ydata-profiling measured on the first {args.ydata_rows:,} rows ({ydata:.1f} s, "
            "`minimal=True`, report built with `to_json()`, in a throwaway venv) and scaled linearly.",
        ]
    lines += [
        "",
        "## What the numbers say",
        "",
        "- A sorted page costs a top-N over the sort column (10-45 ms CPU) plus reading the 50",
        "  rows, which sit all over the file: DuckDB decodes the pages around them in every",
        "  column, about 45 ms CPU with 16 kB pages and a page index (70-100 ms with 1 MB pages;",
        "  the compression codec makes no difference). Integer and categorical sorts meet the",
        "  goal even on a busy machine; float, date-time and text sorts (~65-75 ms CPU) at moderate load.",
        "- One row group scans with one thread; 122,880-row groups",
        "  scan in parallel (filters and searches) but repeat each column's dictionary per group,",
        "  which makes scattered sorted pages dearer. Writing versions in groups of about",
        "  122,880 rows is still the better default for filters and search.",
        "- Text search reads every text-like column (numbers and dates are matched exactly,",
        "  never cast to text); on this data it is the slowest case, about 300 ms CPU.",
        "- The profile sorts each number and date column once in numpy (exact unique counts,",
        "  quartiles and histogram from the sorted array), scans string columns with DuckDB",
        "  and accumulates correlations in chunks: no table is loaded whole.",
        "",
        "The polars reference computes the same statistics in one `select` (missing, exact",
        "unique, min/max/mean/std/skew, quartiles, 20-bin histograms, top-10 values, text",
        "lengths, all numeric correlations, duplicated rows).",
    ]
    (HERE / "README.md").write_text("\n".join(lines) + "\n")
    print(f"\nwrote {HERE / 'README.md'}")


if __name__ == "__main__":
    main()
