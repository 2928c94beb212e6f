"""Tens of millions of tiny rows within the byte limit: the ingest's memory stays bounded by the file size.

A file of 2-byte rows (one 1-character column: the most rows a byte limit lets through) is ingested
in a child process, as an upload runs it (`ingest_file(..., profile=True)`, datasets/service.py) and
as the reader alone (`profile=False`, a re-parse); the child reports its own peak RSS
(`VmHWM`). The bounds are linear in the file size with room above what was measured, so they
catch a reader that keeps a Python object per row or anything quadratic, not a slower machine.

Measured (2026-11, 40M rows, 80 MB, on the 2-core dev machine): the upload path 0.55-0.56 GB peak
(about 7.3x the file; 1.72 GB, 22x, before the profile stopped making column-long float64
temporaries: its one-digit column is now counted per value), the reader alone 0.55-0.60 GB (about
7-8x); the interpreter with the imports ~90 MB. The bounds sit ~10-20% above those figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.conftest import count

ROOT = Path(__file__).resolve().parents[2]
ROWS = 40_000_000
MAX_BYTES = 500 << 20  # the default MAX_UPLOAD_MB: the file is well within it
MB = 1 << 20
# peak RSS < FACTOR x file size + BASE_MB (the interpreter, pyarrow and pandas take ~90 MB alone):
# 6x + 200 MB is 658 MB for this file
BOUNDS = {"upload (ingest + profile)": (True, 6, 200), "reader alone": (False, 6, 200)}

# The peak is VmHWM of the child's own address space. Not ru_maxrss: Linux carries it across
# exec from the forked copy of the parent, so after a long test run it is pytest's size.
CHILD = """
import json, sys
from app.ml.ingest import ingest_file
def hwm_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
before = hwm_kb()
result = ingest_file(sys.argv[1], sys.argv[2], max_bytes=int(sys.argv[3]), profile=sys.argv[4] == "1")
print(json.dumps({"rows": result.n_rows, "cols": result.n_cols, "before_kb": before, "peak_kb": hwm_kb()}))
"""


def write_tiny_rows(path: Path, rows: int) -> None:
    block = "".join(f"{i % 10}\n" for i in range(1000)).encode()  # one digit a row
    with path.open("wb") as out:
        out.write(b"d\n")
        for _ in range(rows // 1000):
            out.write(block)


@pytest.fixture(scope="module")
def tiny_rows(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-rows") / "tiny.csv"
    write_tiny_rows(path, ROWS)
    assert path.stat().st_size < MAX_BYTES
    yield path
    path.unlink()


@pytest.mark.slow
@pytest.mark.parametrize("what", sorted(BOUNDS))
def test_tens_of_millions_of_tiny_rows_in_bounded_memory(tiny_rows: Path, what: str, tmp_path):
    profile, factor, base_mb = BOUNDS[what]
    size = tiny_rows.stat().st_size
    dest = tmp_path / "v1.parquet"
    done = subprocess.run([sys.executable, "-c", CHILD, str(tiny_rows), str(dest), str(MAX_BYTES),
                           "1" if profile else "0"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert (figures["rows"], figures["cols"]) == (ROWS, 1)
    peak = figures["peak_kb"] * 1024
    bound = factor * size + base_mb * MB
    print(f"{what}: {ROWS:,} rows, {size / MB:.0f} MB file: peak RSS {peak / MB:.0f} MB "
          f"({peak / size:.1f}x the file), bound {bound / MB:.0f} MB")
    assert peak < bound, (f"{what}: peak RSS {peak / MB:.0f} MB for a {size / MB:.0f} MB file of {ROWS:,} "
                          f"rows is over {factor}x the file + {base_mb} MB")
    dest.unlink()
    count("hostile inputs tried")
