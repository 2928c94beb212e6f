"""Property: random frames written in random dialects come back unchanged through upload and download."""

from __future__ import annotations

import csv
import io
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.functional.test_datasets_api import upload

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéüßABCXYZ ,;|\"'", min_size=1, max_size=12).map(
    lambda s: "w" + s.strip() + "z")  # starts and ends with a letter: never a number, marker or formula
INT = st.integers(min_value=-10**12, max_value=10**12)
FLOAT = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 3))
KINDS = {"int": INT, "float": FLOAT, "text": WORD}


@st.composite
def frames(draw):
    n_cols = draw(st.integers(2, 5))
    kinds = [draw(st.sampled_from(sorted(KINDS))) for _ in range(n_cols)]
    n_rows = draw(st.integers(3, 25))
    rows = [[draw(KINDS[k]) for k in kinds] for _ in range(n_rows)]
    for col, kind in enumerate(kinds):  # a float column needs a fractional value to stay float
        if kind == "float" and all(float(r[col]).is_integer() for r in rows):
            rows[0][col] = 0.5
    return [f"col_{i}_{k}" for i, k in enumerate(kinds)], kinds, rows


DIALECTS = st.fixed_dictionaries({
    "delimiter": st.sampled_from([",", ";", "\t", "|"]),
    "lineterminator": st.sampled_from(["\n", "\r\n"]),
    "encoding": st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    "decimal_comma": st.booleans(),
})


def write(header, kinds, rows, dialect) -> bytes:
    decimal_comma = dialect["decimal_comma"] and dialect["delimiter"] != ","
    out = io.StringIO()
    writer = csv.writer(out, delimiter=dialect["delimiter"], lineterminator=dialect["lineterminator"],
                        quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        cells = []
        for value, kind in zip(row, kinds, strict=True):
            text = repr(value) if kind == "float" else str(value)
            cells.append(text.replace(".", ",") if decimal_comma and kind == "float" else text)
        writer.writerow(cells)
    return out.getvalue().encode(dialect["encoding"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames(), dialect=DIALECTS)
def test_upload_then_download_gives_back_the_same_values(client, api_headers, frame, dialect):
    header, kinds, rows = frame
    r = upload(client, api_headers, write(header, kinds, rows, dialect), "random.csv")
    assert r.status_code == 201, (r.json, dialect)
    ds = r.json["id"]
    down = client.get(f"/api/v1/datasets/{ds}/download", headers=api_headers)
    table = list(csv.reader(io.StringIO(down.data.decode("utf-8"))))
    assert table[0] == header
    assert len(table) - 1 == len(rows)
    for got_row, want_row in zip(table[1:], rows, strict=True):
        for got, want, kind in zip(got_row, want_row, kinds, strict=True):
            if kind == "float":
                assert math.isclose(float(got), want, rel_tol=1e-9, abs_tol=1e-9), (got, want, dialect)
            elif kind == "int":
                assert int(float(got)) == want
            else:
                assert got == want, dialect
    client.delete(f"/api/v1/datasets/{ds}", headers=api_headers)
