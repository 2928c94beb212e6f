"""A few non-ASCII bytes are not evidence of a non-Latin script."""

from app.ml.ingest.source import detect_encoding


def test_a_lone_sharp_s_in_cp1252_is_not_read_as_cjk():
    head = "col_0_text,col_1_float\nwßz,0.5\nw;z,0.0\n".encode("cp1252")
    assert detect_encoding(head) == "cp1252"


def test_plenty_of_cyrillic_is_still_detected():
    text = "имя,город\n" + "Иван,Москва\nПётр,Санкт-Петербург\n" * 40  # noqa: RUF001
    assert detect_encoding(text.encode("cp1251")) in ("cp1251", "koi8-r", "mac-cyrillic", "iso8859-5")
