"""The hostile-input corpus of issue #8: every case with its exact expected outcome.

`upload_cases()` are files sent to POST /api/v1/datasets; `prediction_cases()` are rows sent to
POST /api/v1/models/<id>/predict of a model trained on the penguins sample. Each case names the
status and a fragment of the message (or of a warning) that the answer must carry, and what else
to check (`checks`). Cases are generated, not stored: bombs and huge cells are built in memory.

Older tests cover some of these for one input each (tests/functional/test_datasets_api.py, the
ingest unit tests); this is the one list, run end to end through the API.
"""

from __future__ import annotations

import functools
import gzip
import io
import stat
import zipfile
from dataclasses import dataclass, field

from app.ml.kinds import MISSING_MARKERS

CSV = b"name,age,income\nAda,36,1200.5\nBob,41,2000\nCyd,29,1500\n"
LIMIT_MB = 1  # the upload limit the size cases run under (the app's MAX_UPLOAD_MB, lowered)


@dataclass(frozen=True)
class UploadCase:
    id: str
    content: bytes
    filename: str = "data.csv"
    content_type: str | None = None  # the part's Content-Type as the client claims it
    status: int = 201
    fragment: str = ""  # in the error message, or in a warning when accepted
    checks: tuple[str, ...] = ()  # extra checks by name (see test_hostile_inputs.py)
    max_upload_mb: int | None = None  # run with this upload limit
    form: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PredictionCase:
    id: str
    changes: dict  # applied to a valid row
    status: int = 200
    fragment: str = ""  # in the 422's message or errors: the row and the feature


def _zip(members: list[tuple[str, bytes]], *, link: str | None = None, level: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=level) as archive:
        for name, data in members:
            archive.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _bomb_rows(megabytes: int) -> bytes:
    row = b"1,2,3,4,5,6,7,8\n"
    return b"a,b,c,d,e,f,g,h\n" + row * (megabytes * 1024 * 1024 // len(row))


@functools.cache
def upload_cases() -> list[UploadCase]:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
    gif = b"GIF89a" + b"\x00" * 64
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
    elf = b"\x7fELF\x02\x01\x01" + b"\x00" * 64
    exe = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64
    bomb = _bomb_rows(30)  # 30 MB of rows: a few tens of KB compressed, far past the 1 MB limit
    cases = [
        # file names: only labels; stored under generated names, shown escaped, downloaded as attachments
        *[UploadCase(f"name-{label}", CSV, filename=name, checks=("generated_name", "escaped_name", "attachment"))
          for label, name in [("traversal", "../../etc/passwd"), ("dotdot", ".."), ("con", "CON"),
                              ("nul", "evil\x00name.csv"), ("long", "n" * 300 + ".csv"),
                              ("script", "<script>alert(1)</script>.csv"), ("backslash", "..\\..\\win.ini"),
                              ("absolute", "/etc/shadow.csv")]],
        # not CSV, whatever the name or the claimed type: decided from the bytes
        UploadCase("png-named-csv", png, "photo.csv", status=415, fragment="image"),
        UploadCase("jpeg-named-csv", jpeg, "photo.csv", status=415, fragment="image"),
        UploadCase("gif-named-csv", gif, "anim.csv", status=415, fragment="image"),
        UploadCase("pdf-named-csv", pdf, "report.csv", status=415, fragment="PDF"),
        UploadCase("elf-named-csv", elf, "tool.csv", status=415, fragment="executable"),
        UploadCase("exe-named-csv", exe, "setup.csv", status=415, fragment="executable"),
        UploadCase("png-claimed-text-csv", png, "x.csv", content_type="text/csv", status=415, fragment="image"),
        UploadCase("pdf-claimed-text-plain", pdf, "x.txt", content_type="text/plain", status=415, fragment="PDF"),
        UploadCase("csv-claimed-image", CSV, "x.png", content_type="image/png", status=201),
        UploadCase("zip-of-an-image", _zip([("a.csv", png)]), "a.zip", status=415, fragment="image"),
        # size: the limit holds on the body and on what archives expand to
        UploadCase("body-over-limit", _bomb_rows(2), "big.csv", status=413, fragment="limit",
                   max_upload_mb=LIMIT_MB),
        UploadCase("gzip-bomb", gzip.compress(bomb, 9), "bomb.csv.gz", status=413, fragment="expands past",
                   max_upload_mb=LIMIT_MB),
        UploadCase("gzip-bomb-named-csv", gzip.compress(bomb, 9), "bomb.csv", status=413, fragment="expands past",
                   max_upload_mb=LIMIT_MB),
        UploadCase("zip-bomb", _zip([("bomb.csv", bomb)]), "bomb.zip", status=413, fragment="expands past",
                   max_upload_mb=LIMIT_MB),
        # archives: one member, no paths out, no links; nothing is extracted otherwise
        UploadCase("zip-two-members", _zip([("a.csv", CSV), ("b.csv", CSV)]), "two.zip", status=422,
                   fragment="exactly one CSV file"),
        UploadCase("zip-traversal", _zip([("../../evil.csv", CSV)]), "up.zip", status=422, fragment="unsafe path"),
        UploadCase("zip-absolute", _zip([("/tmp/evil.csv", CSV)]), "abs.zip", status=422, fragment="unsafe path"),
        UploadCase("zip-link", _zip([], link="passwd.csv"), "link.zip", status=422, fragment="link"),
        UploadCase("zip-csv-and-link", _zip([("a.csv", CSV)], link="b.csv"), "mixed.zip", status=422,
                   fragment="link"),
        UploadCase("zip-nested", _zip([("inner.zip", _zip([("a.csv", CSV)]))]), "nested.zip", status=415,
                   fragment="nested archive"),
        UploadCase("gzip-damaged", gzip.compress(CSV)[:-12], "cut.csv.gz", status=422, fragment="gzip"),
        # content
        UploadCase("cell-20mb", b"a,b\n1," + b"x" * (20 * 1024 * 1024) + b"\n2,y\n", "huge-cell.csv", status=422,
                   fragment="longer than 1,000,000 bytes"),
        UploadCase("nul-and-controls", b"a,b\n1,x\x00y\n2,z\x07w\x1b\n3,ok\n", "ctl.csv", status=201,
                   fragment="control", checks=("no_control_chars",)),
        UploadCase("int-wider-than-64-bits", b"id,big\n1,123456789012345678901234567890\n2,-98765432109876543210987\n",
                   "wide.csv", status=201, checks=("wide_ints_kept",)),
        UploadCase("mixed-date-formats", b"d,n\n2024-01-02,1\n03/01/2024,2\n2024-01-04T10:00:00,3\nJan 5 2024,4\n",
                   "dates.csv", status=201),
        # column names that are the profile query's own aliases (a 500 once)
        UploadCase("columns-named-v-and-c", b"d,v,c\n1,2,3\n4,5,6\n4,5,7\n", "aliases.csv", status=201),
        UploadCase("empty", b"", "empty.csv", status=422),
        UploadCase("header-only", b"a,b,c\n", "header.csv", status=422),
        # output: formulas neutralised in exports, HTML escaped everywhere, no javascript: links
        UploadCase("formula-cells", b"label,n\n=1+1,-5\n+cmd|' /C calc'!A0,3\n@SUM(A1),-2.5\n-2+3,7\n\t=x,1\n",
                   "formulas.csv", checks=("formulas_neutralised",)),
        UploadCase("html-everywhere", b"<img src=x onerror=alert(1)>,b\n<script>alert(2)</script>,1\nx,2\n",
                   "html.csv", form={"name": "<b onmouseover=alert(3)>name</b>"}, checks=("html_escaped",)),
        UploadCase("javascript-name", CSV, "js.csv", form={"name": "javascript:alert(1)"},
                   checks=("no_javascript_link",)),
    ]
    return cases


def prediction_cases() -> list[PredictionCase]:
    numeric = "bill_length_mm"
    cases = [
        # every missing marker of the upload means missing here too (the same list at training time)
        *[PredictionCase(f"missing-marker-{marker or 'empty'}", {numeric: marker}) for marker in MISSING_MARKERS],
        PredictionCase("json-null", {numeric: None}),
        *[PredictionCase(f"inf-string-{text}", {numeric: text}) for text in ("inf", "-inf", "Infinity", "INF")],
        PredictionCase("huge-float", {numeric: 1e308}),
        PredictionCase("huge-int", {"body_mass_g": 10**30}),
        PredictionCase("tiny-float", {numeric: 5e-324}),
        PredictionCase("numeric-string", {numeric: " 39.5 "}),
        PredictionCase("unseen-category", {"island": "Atlantis"}),
        PredictionCase("number-for-category", {"island": 7}),
        PredictionCase("html-category", {"island": "<script>alert(1)</script>"}),
        PredictionCase("object-for-number", {numeric: {"$gt": 1}}, 422, numeric),
        PredictionCase("array-for-number", {numeric: [1, 2]}, 422, numeric),
        PredictionCase("object-for-category", {"island": {"a": 1}}, 422, "island"),
        PredictionCase("array-for-category", {"island": ["Biscoe"]}, 422, "island"),
        PredictionCase("text-for-number", {numeric: "forty"}, 422, numeric),
        PredictionCase("formula-for-number", {numeric: "=1+1"}, 422, numeric),
        PredictionCase("bool-for-number", {numeric: True}, 422, numeric),
        PredictionCase("absent-feature", {"__drop__": numeric}, 422, numeric),
    ]
    return cases


def counts() -> dict[str, int]:
    return {"uploads": len(upload_cases()), "predictions": len(prediction_cases())}
