"""Name normalisation and parsing (DESIGN.md, "Matching rules": names). The matching
rules themselves are in the table of tests/name_cases.py (test_name_table.py)."""

# ruff: noqa: RUF001  (the apostrophe and dash variants are the point of these cases)
from __future__ import annotations

import pytest

from verify.domain.errors import ValidationError
from verify.domain.model import FieldOutcome, FieldResult
from verify.domain.name_text import skeleton, words
from verify.domain.names import fold, has_diacritics, match_name, normalise, parse_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nguyễn Văn An", "nguyễn văn an"),
        ("  NGUYỄN \t VĂN\n AN  ", "nguyễn văn an"),
        ("Nguye\u0302\u0303n", "nguyễn"),  # NFD input
        ("ĐẶNG", "đặng"),
        ("ÐẶNG ðức", "đặng đức"),  # U+00D0 / U+00F0 look-alikes
        ("H’Hen H‘a Hʼb H´c H`d", "h'hen h'a h'b h'c h'd"),
        ("Y\u2010Jút Y\u2011A Y–B Y—C", "y-jút y-a y-b y-c"),
        ("", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("old_style", "new_style"),
    [("hòa", "hoà"), ("thủy", "thuỷ"), ("khỏe", "khoẻ"), ("Thúy", "Thuý"), ("TÙY", "TUỲ"),
     ("xõa", "xoã"), ("họa", "hoạ"), ("ủy", "uỷ")],
)  # fmt: skip
def test_open_oa_oe_uy_have_one_tone_place(old_style: str, new_style: str) -> None:
    assert normalise(old_style) == normalise(new_style) == old_style.lower()


@pytest.mark.parametrize(
    ("one", "other"),
    [("hoàng", "hoàng"), ("toàn", "toan\u0300"), ("quý", "qúy"), ("quỳnh", "qùynh"),
     ("thuyết", "thúyêt"), ("khuya", "khúya")],
)  # fmt: skip
def test_closed_syllables_and_qu_are_left_alone(one: str, other: str) -> None:
    if one != other:
        assert normalise(one) != normalise(other)
    assert normalise(one) == one


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nguyễn Văn An", "nguyen van an"),
        ("Đặng Đức Minh", "dang duc minh"),
        ("Ðặng", "dang"),
        ("Trương Thị Ướt", "truong thi uot"),
        ("Nguye\u0302\u0303n", "nguyen"),
        ("  Hà  ", "ha"),
        ("ABC", "abc"),
    ],
)
def test_fold(raw: str, expected: str) -> None:
    assert fold(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Nguyễn", True), ("Đinh", True), ("dinh", False), ("NGUYEN VAN AN", False), ("", False)],
)
def test_has_diacritics(raw: str, expected: bool) -> None:
    assert has_diacritics(raw) is expected


def test_skeleton_and_words() -> None:
    name = normalise("Y-Jút  Niê H'Bơ")
    assert skeleton(name) == "yjútniêhbơ"
    assert words(name) == ["y", "jút", "niê", "h'bơ"]


def test_a_result_carries_no_score() -> None:
    assert not hasattr(FieldResult(FieldOutcome.MATCH), "score")
    assert match_name("n", "Nguyễn Văn An") == FieldResult(FieldOutcome.NO_MATCH)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Nguyễn Văn An", "Nguyễn Văn An"), ("  Nguye\u0302\u0303n   An ", "Nguyễn An"), ("A", "A")],
)
def test_parse_name(raw: str, expected: str) -> None:
    assert parse_name(raw, "full_name") == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "A" * 201, 12, None, ["An"], "123", "'-/"]
    + [f"Nguyễn{ch}Văn An" for ch in ("\x00", "\x07", "\t", "\n", "\u200b", "\u202e", "\ufeff",
                                      "\u2066", "\x7f", "\ud800")],
)  # fmt: skip
def test_parse_name_invalid(raw: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_name(raw, "full_name")
    assert (caught.value.code, caught.value.field) == ("invalid_field", "full_name")
    assert "Nguy" not in caught.value.detail
