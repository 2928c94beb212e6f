"""Shrunk cases from tests/functional/test_dataset_roundtrip.py: each once read wrongly."""

from __future__ import annotations

from app.ml.ingest import read_table


def _read(tmp_path, text: str):
    path = tmp_path / "case.csv"
    path.write_bytes(text.encode("utf-8"))
    return read_table(path)


def test_header_line_consistency_beats_a_delimiter_only_the_rows_agree_on(tmp_path):
    # With ';' each row splits into 3 equal fields, but the header line into 1; with ','
    # every line, header included, has 2 fields.
    table, result = _read(tmp_path, "col_0_text,col_1_text\nw;z,w;z\nw;z,w;z\nw;z,w;z\n")
    assert result.dialect.delimiter == ","
    assert table.column_names == ["col_0_text", "col_1_text"]
    assert table.column("col_0_text").to_pylist() == ["w;z"] * 3


def test_a_title_line_still_is_a_preamble(tmp_path):
    text = "Sales report\nid;name;score\n1;Ann;1.5\n2;Bob;2.5\n3;Cy;3.5\n"
    table, result = _read(tmp_path, text)
    assert result.dialect.delimiter == ";"
    assert table.column_names == ["id", "name", "score"]
    assert table.num_rows == 3


def test_a_row_repeating_body_values_is_not_a_second_header_row(tmp_path):
    # `w;;z` fits no shape of its column, but `w;z` beside it is a value of the body
    table, _ = _read(tmp_path, "col_0_text,col_1_text\nw;z,w;;z\nw;z,w;z\nw;z,w;z\n")
    assert table.column_names == ["col_0_text", "col_1_text"]
    assert table.column("col_1_text").to_pylist() == ["w;;z", "w;z", "w;z"]


def test_a_row_odd_only_in_text_columns_is_data_not_a_second_header_row(tmp_path):
    table, _ = _read(tmp_path, "col_0_text,col_1_text\nw;;z,w;;z\nw;z,w;z\nw;z,w;z\n")
    assert table.column_names == ["col_0_text", "col_1_text"]
    assert table.num_rows == 3
