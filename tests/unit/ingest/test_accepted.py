"""Messy but readable CSVs, generated here: each gives exactly the expected rows and columns."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import zipfile

import pyarrow.parquet as pq
import pytest

from app.ml.ingest import ingest_file, read_table

D = dt.datetime
BASE = "id,name,score,when\n1,Ann,1.5,2024-01-02\n2,Bob,2.25,2024-02-03\n3,Cy,-3,2024-03-04\n"
BASE_ROWS = [
    {"id": 1, "name": "Ann", "score": 1.5, "when": D(2024, 1, 2)},
    {"id": 2, "name": "Bob", "score": 2.25, "when": D(2024, 2, 3)},
    {"id": 3, "name": "Cy", "score": -3.0, "when": D(2024, 3, 4)},
]


def _read(tmp_path, data: bytes | str, name: str = "upload.csv", **kwargs):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return read_table(path, **kwargs)


def _dialect(data: str, delimiter: str, newline: str = "\n") -> str:
    return data.replace(",", delimiter).replace("\n", newline)


@pytest.mark.parametrize(
    ("delimiter", "newline"),
    [(",", "\n"), (";", "\r\n"), ("\t", "\r"), ("|", "\n"), (" ", "\r\n")],
)
def test_delimiters_and_line_ends(tmp_path, delimiter, newline):
    table, result = _read(tmp_path, _dialect(BASE, delimiter, newline))
    assert table.to_pylist() == BASE_ROWS
    assert result.dialect.delimiter == delimiter
    assert [c.kind for c in result.columns] == ["integer", "categorical", "float", "datetime"]
    assert result.dialect.header is True


def test_quoted_fields_hold_delimiters_quotes_and_newlines(tmp_path):
    data = 'a,b,c\n1,"Smith, J","line one\nline two"\n2,"say ""hi""",x\n3,plain,"y"\n'
    table, result = _read(tmp_path, data)
    assert table.column("b").to_pylist() == ["Smith, J", 'say "hi"', "plain"]
    assert table.column("c").to_pylist() == ["line one\nline two", "x", "y"]
    assert result.repairs.rows_skipped == result.repairs.rows_repaired == 0


def test_single_quote_as_quote_character(tmp_path):
    data = "a,b\n1,'x, y'\n2,'z, w'\n3,'q, r'\n4,'s, t'\n"
    table, result = _read(tmp_path, data)
    assert result.dialect.quotechar == "'"
    assert table.column("b").to_pylist() == ["x, y", "z, w", "q, r", "s, t"]


def test_backslash_escapes(tmp_path):
    data = 'a,b\n1,"say \\"hi\\" now"\n2,"a \\"b\\""\n3,"plain"\n'
    table, result = _read(tmp_path, data)
    assert result.dialect.escapechar == "\\"
    assert table.column("b").to_pylist() == ['say "hi" now', 'a "b"', "plain"]


@pytest.mark.parametrize(
    ("encoding", "prefix", "reported"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        ("utf-16-le", b"\xff\xfe", "utf-16"),
        ("utf-16-be", b"\xfe\xff", "utf-16"),
        ("utf-16-le", b"", "utf-16-le"),
    ],
)
def test_unicode_encodings(tmp_path, encoding, prefix, reported):
    text = "city,n\nZürich,1\nSão Paulo,2\nKraków,3\n"
    table, result = _read(tmp_path, prefix + text.encode(encoding))
    assert table.column("city").to_pylist() == ["Zürich", "São Paulo", "Kraków"]
    assert table.column_names == ["city", "n"]
    assert result.dialect.encoding in {reported, "utf-8"}


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_single_byte_encodings_are_detected(tmp_path, encoding):
    text = "name,price\nCafé crème,3\nDéjà vu,4\nGarçon,5\nNaïve façade,6\n"
    if encoding == "cp1252":
        text = text.replace("Garçon", "Garçon €")
    table, result = _read(tmp_path, text.encode(encoding))
    assert table.column("name").to_pylist()[0] == "Café crème"
    assert table.column("name").to_pylist()[1] == "Déjà vu"
    assert result.dialect.encoding in {"cp1252", "latin-1", "iso8859-1"}
    if encoding == "cp1252":
        assert table.column("name").to_pylist()[2] == "Garçon €"


def test_decimal_comma_and_thousands_dot(tmp_path):
    data = "item;price;qty\na;1,5;1.234\nb;1.234,25;2.000\nc;-0,75;3\n"
    table, result = _read(tmp_path, data)
    assert result.dialect.decimal == ","
    assert result.dialect.thousands == "."
    assert table.column("price").to_pylist() == [1.5, 1234.25, -0.75]
    assert table.column("qty").to_pylist() == [1234, 2000, 3]


def test_thousands_comma_in_quoted_numbers(tmp_path):
    data = 'item,amount\na,"1,234,567.5"\nb,"2,000.25"\nc,3.5\n'
    table, result = _read(tmp_path, data)
    assert result.dialect.thousands == ","
    assert table.column("amount").to_pylist() == [1234567.5, 2000.25, 3.5]


def test_decimal_override(tmp_path):
    data = "a;b\nx;1,5\ny;2,5\n"
    table, _result = _read(tmp_path, data, overrides={"decimal": ",", "delimiter": ";"})
    assert table.column("b").to_pylist() == [1.5, 2.5]


def test_no_header_gets_numbered_columns(tmp_path):
    data = "1,2.5,2024-01-01\n2,3.5,2024-01-02\n3,4.5,2024-01-03\n"
    table, result = _read(tmp_path, data)
    assert result.dialect.header is False
    assert table.column_names == ["column_1", "column_2", "column_3"]
    assert table.num_rows == 3


def test_header_override_false(tmp_path):
    table, _result = _read(tmp_path, "a,b\nc,d\ne,f\n", overrides={"header": "false"})
    assert table.column_names == ["column_1", "column_2"]
    assert table.column("column_1").to_pylist() == ["a", "c", "e"]


def test_preamble_lines_are_skipped(tmp_path):
    data = "Sales report\nGenerated 2024-05-01\n\n" + BASE
    table, result = _read(tmp_path, data)
    assert result.dialect.skipped_lines == 3
    assert table.to_pylist() == BASE_ROWS


def test_duplicate_and_empty_header_names(tmp_path):
    table, result = _read(tmp_path, "a,a,,b\n1,2,3,4\n5,6,7,8\n")
    assert table.column_names == ["a", "a_2", "column_3", "b"]
    codes = sorted(w.code for w in result.warnings)
    assert codes == ["duplicate_header", "empty_header"]


def test_missing_markers(tmp_path):
    data = "k,v\na,1.5\nb,NA\nc,N/A\nd,NaN\ne,null\nf,None\ng,-\nh,\ni,2\n"
    table, result = _read(tmp_path, data)
    assert table.column("v").to_pylist() == [1.5, None, None, None, None, None, None, None, 2.0]
    assert result.columns[1].missing == 7


def test_infinite_values_become_missing_with_a_warning(tmp_path):
    table, result = _read(tmp_path, "k,v\na,1\nb,inf\nc,1e309\nd,-inf\ne,2.5\n")
    assert table.column("v").to_pylist() == [1.0, None, None, None, 2.5]
    assert any(w.code == "infinite_values" and w.column == "v" for w in result.warnings)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["28/01/2018", "13/02/2018"], [D(2018, 1, 28), D(2018, 2, 13)]),
        (["01/28/2018", "02/13/2018"], [D(2018, 1, 28), D(2018, 2, 13)]),
        (["28.01.2018", "13.02.2018"], [D(2018, 1, 28), D(2018, 2, 13)]),
        (["2018-01-28T10:11:12", "2018-02-13 00:00:00"], [D(2018, 1, 28, 10, 11, 12), D(2018, 2, 13)]),
        (["5 Mar 2021", "12 Apr 2021"], [D(2021, 3, 5), D(2021, 4, 12)]),
    ],
)
def test_date_formats(tmp_path, values, expected):
    table, result = _read(tmp_path, "d,n\n" + "".join(f"{v},{i}\n" for i, v in enumerate(values)))
    assert result.columns[0].kind == "datetime"
    assert table.column("d").to_pylist() == expected


def test_spaces_around_values_are_stripped(tmp_path):
    table, _ = _read(tmp_path, "a , b\n  1 ,  x  \n 2, y\n")
    assert table.column_names == ["a", "b"]
    assert table.column("a").to_pylist() == [1, 2]
    assert table.column("b").to_pylist() == ["x", "y"]


def test_comma_space_separated_file(tmp_path):
    table, _result = _read(tmp_path, 'a, b, c\n1, "x, y", 2\n3, "z", 4\n5, w, 6\n')
    assert table.column("b").to_pylist() == ["x, y", "z", "w"]
    assert table.column("c").to_pylist() == [2, 4, 6]


def test_nul_and_control_characters_are_removed(tmp_path):
    table, result = _read(tmp_path, b"a,b\n1,x\x00y\n2,z\x07\n")
    assert table.column("b").to_pylist() == ["xy", "z"]
    assert any(w.code == "control_characters" for w in result.warnings)


def test_wide_integers_stay_exact_as_text(tmp_path):
    big = ["123456789012345678901234567890", "223456789012345678901234567890"]
    table, result = _read(tmp_path, "n,k\n" + "".join(f"{b},{i}\n" for i, b in enumerate(big)))
    assert table.column("n").to_pylist() == big
    assert any(w.code == "wide_integer" for w in result.warnings)


def test_yes_no_keeps_spelling_with_boolean_kind(tmp_path):
    table, result = _read(tmp_path, "flag,z\nyes,0\nno,1\nYes,1\n")
    assert table.column("flag").to_pylist() == ["yes", "no", "Yes"]
    assert [c.kind for c in result.columns] == ["boolean", "integer"]


def test_zero_padded_codes_keep_their_zeros(tmp_path):
    table, _result = _read(tmp_path, "zip,n\n01234,1\n00501,2\n90210,3\n")
    assert table.column("zip").to_pylist() == ["01234", "00501", "90210"]


def test_bad_rows_are_repaired_or_skipped_and_counted(tmp_path):
    good = [f'{i},"P-{1000 + i}",{i}.5,2024-01-{i + 1:02d}' for i in range(1, 25)]
    rows = list(good)
    rows[4] = '5,"P-1005,5.5,2024-01-06'  # stray quote
    rows[9] = "10,P-1010,,10.5,2024-01-11"  # one empty field too many
    rows[14] = "15P-1015,15.5,2024-01-16"  # lost delimiter
    rows[19] = "garbage"  # cannot be read
    data = "n,code,x,d\n" + "\n".join(rows) + "\n"
    table, result = _read(tmp_path, data)
    assert result.repairs.rows_repaired == 3
    assert result.repairs.rows_skipped == 1
    assert result.repairs.lines == [6, 11, 16, 21]
    assert table.num_rows == 23
    codes = table.column("code").to_pylist()
    assert '"P-1005' in codes and "P-1010" in codes and "P-1015" in codes
    assert table.column("n").to_pylist()[13:15] == [14, 15]


def test_second_table_is_ignored_with_a_warning(tmp_path):
    data = BASE + "\nid,name,score,when\n9,Zed,9,2024-09-09\n"
    table, result = _read(tmp_path, data)
    assert table.num_rows == 3
    assert any(w.code == "more_tables" for w in result.warnings)


@pytest.mark.parametrize("name", ["data.csv.gz", "data.txt", "weird.bin"])
def test_gzip_judged_by_content(tmp_path, name):
    table, _ = _read(tmp_path, gzip.compress(BASE.encode()), name=name)
    assert table.to_pylist() == BASE_ROWS


@pytest.mark.parametrize("name", ["data.zip", "data.csv"])
def test_zip_with_one_csv(tmp_path, name):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("folder/inner.csv", BASE)
    table, _ = _read(tmp_path, buf.getvalue(), name=name)
    assert table.to_pylist() == BASE_ROWS


def test_ingest_writes_parquet_with_kinds(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(BASE)
    dest = tmp_path / "out" / "v1.parquet"
    dest.parent.mkdir()
    result = ingest_file(src, dest, max_bytes=1 << 20)
    table = pq.read_table(dest)
    assert table.to_pylist() == BASE_ROWS
    kinds = json.loads(table.schema.metadata[b"csv_analyzer.kinds"])
    assert kinds == {"id": "integer", "name": "categorical", "score": "float", "when": "datetime"}
    assert str(table.schema.field("id").type) == "int64"
    assert result.n_rows == 3 and result.n_cols == 4
    assert list(dest.parent.iterdir()) == [dest]
    api = result.to_dict()
    assert set(api["dialect"]) == {
        "encoding", "delimiter", "quotechar", "escapechar", "decimal", "thousands", "header",
        "skipped_lines",
    }


def test_cyrillic_single_byte_file_is_not_read_as_cp1252(tmp_path):
    city, moscow = "\u0433\u043e\u0440\u043e\u0434", "\u041c\u043e\u0441\u043a\u0432\u0430"
    spb = "\u0421\u0430\u043d\u043a\u0442-\u041f\u0435\u0442\u0435\u0440\u0431\u0443\u0440\u0433"
    text = f"{city},n\n{moscow},13000000\n{spb},5600000\n{moscow} {spb},1600000\n"
    table, result = _read(tmp_path, text.encode("cp1251"))
    assert table.column(city).to_pylist()[0] == moscow
    assert result.dialect.encoding == "cp1251"
