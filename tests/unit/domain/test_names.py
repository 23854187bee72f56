"""Name normalisation and matching (DESIGN.md, "Matching rules": names)."""

from __future__ import annotations

import pytest

from verify.domain.errors import ValidationError
from verify.domain.model import FieldOutcome, FieldResult, Rule
from verify.domain.names import fold, has_diacritics, match_name, normalise, parse_name

MATCH, PARTIAL, NO = FieldOutcome.MATCH, FieldOutcome.PARTIAL, FieldOutcome.NO_MATCH


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nguyễn Văn An", "nguyễn văn an"),
        ("  NGUYỄN \t VĂN\n AN  ", "nguyễn văn an"),
        ("Nguye\u0302\u0303n", "nguyễn"),  # NFD input
        ("ĐẶNG", "đặng"),
        ("", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nguyễn Văn An", "nguyen van an"),
        ("Đặng Đức Minh", "dang duc minh"),
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


REGISTER_NAME = "Nguyễn Văn An"


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("Nguyễn Văn An", FieldResult(MATCH, Rule.EXACT, 100)),
        ("  nguyễn  VĂN an ", FieldResult(MATCH, Rule.EXACT, 100)),
        ("Nguye\u0302\u0303n Va\u0306n An", FieldResult(MATCH, Rule.EXACT, 100)),
        ("NGUYEN VAN AN", FieldResult(MATCH, Rule.ASCII_FOLDED, 100)),
        ("nguyen van an", FieldResult(MATCH, Rule.ASCII_FOLDED, 100)),
        ("Nguyen Văn An", FieldResult(MATCH, Rule.ASCII_FOLDED, 100)),
        ("Nguyên Văn An", FieldResult(PARTIAL, Rule.ASCII_FOLDED, 92)),
        ("Văn An Nguyễn", FieldResult(PARTIAL, Rule.REORDERED, 99)),
        ("an nguyen van", FieldResult(PARTIAL, Rule.REORDERED, 99)),
        ("NGUYEN/VAN AN", FieldResult(PARTIAL, Rule.REORDERED, 99)),
        ("NGUYEN / VAN AN", FieldResult(PARTIAL, Rule.REORDERED, 99)),
        ("Nguyễn/Văn An", FieldResult(PARTIAL, Rule.REORDERED, 99)),
        ("VAN AN/NGUYEN", FieldResult(PARTIAL, Rule.REORDERED, 99)),
        ("NGUYEN/VANAN", FieldResult(PARTIAL, Rule.FUZZY, 96)),
        ("Nguyen Van Anh", FieldResult(PARTIAL, Rule.FUZZY, 96)),
        ("Van Am Nguyen", FieldResult(PARTIAL, Rule.FUZZY, 92)),
        ("Nguyễn Văn Bình", FieldResult(NO, None, 86)),
        ("Trần Văn An", FieldResult(NO, None, 67)),
        ("Lê Thị Thu", FieldResult(NO, None, 26)),
    ],
)
def test_match_name(claim: str, expected: FieldResult) -> None:
    assert match_name(claim, REGISTER_NAME) == expected


@pytest.mark.parametrize(
    ("claim", "register", "outcome", "rule"),
    [
        ("Trần Thị Hạ", "Trần Thị Hà", PARTIAL, Rule.ASCII_FOLDED),  # different names
        ("Tran Thi Ha", "Trần Thị Hà", MATCH, Rule.ASCII_FOLDED),
        ("Dang Duc Minh", "Đặng Đức Minh", MATCH, Rule.ASCII_FOLDED),
        ("Dặng Đức Minh", "Đặng Đức Minh", PARTIAL, Rule.ASCII_FOLDED),  # D is not Đ here
        ("Hạ Thị Trần", "Trần Thị Hà", PARTIAL, Rule.REORDERED),
    ],
)
def test_match_name_diacritics(
    claim: str, register: str, outcome: FieldOutcome, rule: Rule
) -> None:
    result = match_name(claim, register)
    assert (result.result, result.rule) == (outcome, rule)


def test_partial_scores_stay_below_100() -> None:
    long_register = "Nguyễn " + "Văn " * 60 + "Hà"
    result = match_name(long_register.replace("Hà", "Hạ"), long_register)
    assert result == FieldResult(PARTIAL, Rule.ASCII_FOLDED, 99)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Nguyễn Văn An", "Nguyễn Văn An"), ("  Nguye\u0302\u0303n   An ", "Nguyễn An"), ("A", "A")],
)
def test_parse_name(raw: str, expected: str) -> None:
    assert parse_name(raw, "full_name") == expected


@pytest.mark.parametrize("raw", ["", "   ", "A" * 201, 12, None, ["An"]])
def test_parse_name_invalid(raw: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_name(raw, "full_name")
    assert (caught.value.code, caught.value.field) == ("invalid_field", "full_name")
