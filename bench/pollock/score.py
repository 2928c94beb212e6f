"""Score our CSV reader on the Pollock benchmark, side by side with CleverCSV and DuckDB.

Every polluted file is loaded with no parameters, written as a standard CSV (comma, double
quotes, header first) and compared with the clean file as ../shared/pollock/README.md says:
cells normalised (empty stays empty; booleans, integers, floats, dates, times and prices in
one canonical form; other text lower-cased), then success and header/record/cell
precision/recall/F1 per file; the simple score adds the ten means, the weighted score adds the
ten measures averaged with each file's weight from pollock_weights.json.

How each loader's table becomes CSV:
- ours: `read_table(path)`, values written with str() (datetimes as ISO); a file we read as
  headerless is written without the generated column_N names; a "no data rows" refusal is
  written as the header it found (or nothing).
- CleverCSV: `clevercsv.read_table` (rows of strings as detected), written as they come.
- DuckDB: `read_csv` auto-detect (and a lenient variant); typed values written with str();
  headerless when its sniffer says the file has no header.

Usage: python bench/pollock/score.py [--limit N] [--loaders ours,clevercsv,duckdb] [--write-readme]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
import time
import warnings
from collections import Counter
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
POLLOCK = Path(os.environ.get("POLLOCK_DIR", ROOT.parent / "shared" / "pollock"))
MEASURES = ["success"] + [f"{p}_{m}" for p in ("header", "record", "cell")
                          for m in ("precision", "recall", "f1")]


# ---------------------------------------------------------------- normalisation
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?$")
_PRICE = re.compile(r"^([$€£¥])\s?([+-]?\d[\d,]*(?:\.\d+)?)$|^([+-]?\d[\d,]*(?:\.\d+)?)\s?([$€£¥])$")


def _dateutil():
    import dateutil.parser

    class Info(dateutil.parser.parserinfo):
        JUMP = [" ", ".", ",", ";", "-", "/", "'"]

    return dateutil.parser, Info()


_DU = None


@lru_cache(maxsize=500_000)
def normalize_cell(val: str) -> str:
    """One canonical spelling per value (the Pollock rules, re-implemented)."""
    global _DU
    if val is None or not val.split():
        return ""
    if val in ("True", "true", "False", "false"):
        return "1" if val.lower() == "true" else "0"
    try:
        number = int(val)
        if number in (0, 1):
            return str(number)
        return str(number)
    except ValueError:
        pass
    try:
        return str(float(val))
    except ValueError:
        pass
    m = _TIME.match(val.strip())
    if m:
        h, mi, s, ampm = int(m[1]), int(m[2]), int(m[3] or 0), m[4]
        if ampm and ampm.lower() == "pm" and h < 12:
            h += 12
        if h < 24 and mi < 60 and s < 60:
            return f"{h:02d}:{mi:02d}:{s:02d}"
    if _DU is None:
        _DU = _dateutil()
    parser, info = _DU
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return str(parser.parse(val, parserinfo=info))
    except (ValueError, OverflowError, TypeError, parser.ParserError):
        pass
    m = _PRICE.match(val.strip())
    if m:
        cur = m[1] or m[4]
        amount = (m[2] or m[3]).replace(",", "")
        return cur + str(float(amount))
    return val.lower()


def _prf(clean: list[str], loaded: list[str]) -> tuple[float, float, float]:
    if not clean:
        return 1.0, 1.0, 1.0
    inter = sum((Counter(clean) & Counter(loaded)).values())
    if not inter:
        return 0.0, 0.0, 0.0
    precision = inter / len(clean)
    recall = inter / len(loaded)
    return precision, recall, 2 * precision * recall / (precision + recall)


def measures(clean_rows: list[list[str]], loaded_rows: list[list[str]] | None) -> dict:
    if loaded_rows is None:
        return dict.fromkeys(MEASURES, 0.0)
    out = {"success": 1.0}
    clean_header = [normalize_cell(c) for c in (clean_rows[0] if clean_rows else [])]
    loaded_header = [normalize_cell(c) for c in (loaded_rows[0] if loaded_rows else [])]
    out.update(zip(MEASURES[1:4], _prf(clean_header, loaded_header), strict=True))

    def records(rows):
        return ["".join(normalize_cell(c) or "null" for c in r) for r in rows[1:] if r]

    out.update(zip(MEASURES[4:7], _prf(records(clean_rows), records(loaded_rows)), strict=True))

    def cells(rows):
        return [normalize_cell(c) for r in rows[1:] for c in r]

    out.update(zip(MEASURES[7:10], _prf(cells(clean_rows), cells(loaded_rows)), strict=True))
    return out


# ---------------------------------------------------------------- loaders
def _as_csv_rows(rows) -> list[list[str]]:
    """Round-trip through a standard CSV writer and reader, as the benchmark does."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return list(csv.reader(io.StringIO(buf.getvalue(), newline="")))


def load_ours(path: Path) -> list[list[str]]:
    from app.ml.ingest import NoDataRows, read_table

    try:
        table, result = read_table(path)
    except NoDataRows as exc:
        return _as_csv_rows([exc.columns] if exc.columns else [])
    columns = [["" if v is None else str(v) for v in col.to_pylist()] for col in table.columns]
    rows = [list(r) for r in zip(*columns, strict=True)]
    if result.dialect.header:
        rows.insert(0, table.column_names)
    return _as_csv_rows(rows)


def load_clevercsv(path: Path) -> list[list[str]]:
    import clevercsv

    return _as_csv_rows(clevercsv.read_table(str(path)))


def load_duckdb(path: Path, **options) -> list[list[str]]:
    import duckdb

    con = duckdb.connect()
    try:
        rel = con.read_csv(str(path), **options)
        names = rel.columns
        data = rel.fetchall()
        has_header = con.execute("SELECT HasHeader FROM sniff_csv(?)", [str(path)]).fetchone()[0]
    finally:
        con.close()
    rows = [["" if v is None else str(v) for v in r] for r in data]
    if has_header:
        rows.insert(0, list(names))
    return _as_csv_rows(rows)


LOADERS = {
    "ours": load_ours,
    "clevercsv": load_clevercsv,
    "duckdb": load_duckdb,
    # DuckDB 2's sniffer rejects dialects with irregular rows (strict mode) and then reads
    # many polluted files as one column; this variant lets it pad and skip bad rows
    "duckdb_lenient": lambda p: load_duckdb(p, strict_mode=False, null_padding=True, ignore_errors=True),
}


def run(files: list[str], loaders: list[str]) -> dict[str, dict[str, dict]]:
    results: dict[str, dict[str, dict]] = {name: {} for name in loaders}
    clean_dir = POLLOCK / "polluted_files" / "clean"
    for i, fname in enumerate(files):
        with open(clean_dir / fname, newline="", encoding="utf-8") as fh:
            clean_rows = list(csv.reader(fh))
        for name in loaders:
            try:
                loaded = LOADERS[name](POLLOCK / "polluted_files" / "csv" / fname)
            except Exception:  # a loader failing is a score of 0, not a crash
                loaded = None
            results[name][fname] = measures(clean_rows, loaded)
        if (i + 1) % 200 == 0:
            print(f"  {i + 1}/{len(files)} files", file=sys.stderr)
    return results


def summarise(per_file: dict[str, dict], weights: dict[str, float]) -> dict[str, float]:
    files = list(per_file)
    simple = sum(sum(per_file[f][m] for f in files) / len(files) for m in MEASURES)
    total_w = sum(weights.get(f, 0.0) for f in files) or 1.0
    weighted = sum(weights.get(f, 0.0) * sum(per_file[f].values()) for f in files) / total_w
    means = {m: sum(per_file[f][m] for f in files) / len(files) for m in MEASURES}
    return {"simple": simple, "weighted": weighted, **means}


def select_files(limit: int | None = None, row_sample: int | None = None) -> list[str]:
    files = sorted(os.listdir(POLLOCK / "polluted_files" / "csv"))
    if row_sample is not None:
        rows = [f for f in files if f.startswith("row_")]
        step = max(1, len(rows) // row_sample)
        files = [f for f in files if not f.startswith("row_")] + rows[::step][:row_sample]
    return files[:limit] if limit else files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int)
    parser.add_argument("--loaders", default=",".join(LOADERS))
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--dump", help="write per-file measures as JSON here")
    args = parser.parse_args()
    if not POLLOCK.exists():
        sys.exit(f"Pollock data not found at {POLLOCK}")
    weights = json.loads((POLLOCK / "pollock_weights.json").read_text())
    files = select_files(args.limit)
    loaders = args.loaders.split(",")
    start = time.perf_counter()
    results = run(files, loaders)
    elapsed = time.perf_counter() - start
    table = {name: summarise(per_file, weights) for name, per_file in results.items()}
    lines = _table_lines(table, len(files))
    print("\n".join(lines))
    print(f"({elapsed:.0f} s for all loaders)")
    if args.dump:
        Path(args.dump).write_text(json.dumps(results))
    if args.write_readme:
        _write_readme(lines, len(files))


def _table_lines(table: dict[str, dict], n_files: int) -> list[str]:
    import clevercsv
    import duckdb

    versions = {
        "ours": "CSV Analyzer ingest (`read_table`)",
        "clevercsv": f"CleverCSV {clevercsv.__version__} (`read_table`)",
        "duckdb": f"DuckDB {duckdb.__version__} `read_csv` auto-detect",
        "duckdb_lenient": f"DuckDB {duckdb.__version__} auto-detect, strict_mode=false, null_padding, ignore_errors",
    }
    lines = [
        f"| loader ({n_files} files) | simple | weighted | success | header F1 | record F1 | cell F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in table.items():
        lines.append(
            f"| {versions.get(name, name)} | {s['simple']:.3f} | {s['weighted']:.3f} | {s['success']:.3f} "
            f"| {s['header_f1']:.3f} | {s['record_f1']:.3f} | {s['cell_f1']:.3f} |"
        )
    return lines


def _write_readme(lines: list[str], n_files: int) -> None:
    readme = Path(__file__).with_name("README.md")
    text = readme.read_text() if readme.exists() else ""
    marker_start, marker_end = "<!-- results:start -->", "<!-- results:end -->"
    block = "\n".join([marker_start, *lines, marker_end])
    if marker_start in text:
        text = re.sub(f"{marker_start}.*?{marker_end}", block, text, flags=re.S)
    else:
        text += "\n" + block + "\n"
    readme.write_text(text)


if __name__ == "__main__":
    main()
