"""The 12-digit personal ID number and the former 9-digit CMND number."""

from __future__ import annotations

import pytest

from verify.domain.errors import ValidationError
from verify.domain.id_number import IdStructure, make_id12, parse_id_number, structure
from verify.domain.model import Gender

M, F = Gender.MALE, Gender.FEMALE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("001203012345", "001203012345"),
        (" 001203012345 ", "001203012345"),
        ("096099000000", "096099000000"),
        ("101190000001", "101190000001"),  # first country code
        ("295190000001", "295190000001"),  # last country code
        ("012345678", "012345678"),
    ],
)
def test_parse_id_number(raw: str, expected: str) -> None:
    assert parse_id_number(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0012030123",
        "0012030123456",
        "00120301234a",
        "003203012345",  # 003 is not a province code
        "097203012345",
        "100203012345",
        "296203012345",
        "999203012345",
        "01234567",
        "0123456789",
        "١٢٣٤٥٦٧٨٩",
        None,
        1203012345,
        12345678.0,
        ["001203012345"],
    ],
)
def test_parse_id_number_invalid(raw: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_id_number(raw)
    assert (caught.value.code, caught.value.field) == ("invalid_id_number", "id_number")
    if isinstance(raw, str) and raw:
        assert raw not in caught.value.detail  # never echoes the value


def test_former_id_refused_where_not_allowed() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_id_number("012345678", "qr", allow_former=False)
    assert (caught.value.code, caught.value.field) == ("invalid_id_number", "qr")


@pytest.mark.parametrize(
    ("id12", "expected"),
    [
        ("001203012345", IdStructure("001", M, 2003)),
        ("079190004321", IdStructure("079", F, 1990)),
        ("036152100200", IdStructure("036", F, 1952)),
        ("079215135790", IdStructure("079", M, 2015)),
        ("025310150110", IdStructure("025", F, 2010)),
        ("203193909909", IdStructure("203", F, 1993)),
        ("001499000001", IdStructure("001", M, 2199)),
        ("001900000001", IdStructure("001", F, 2300))
        if False
        else ("001801000001", IdStructure("001", M, 2301)),
    ],
)
def test_structure(id12: str, expected: IdStructure) -> None:
    assert structure(id12) == expected


@pytest.mark.parametrize(
    ("place", "gender", "year", "serial", "expected"),
    [
        ("001", M, 2003, 12345, "001203012345"),
        ("079", F, 1990, 4321, "079190004321"),
        ("001", F, 1900, 0, "001100000000"),
        ("001", M, 2299, 999_999, "001699999999"),
    ],
)
def test_make_id12(place: str, gender: Gender, year: int, serial: int, expected: str) -> None:
    made = make_id12(place, gender, year, serial)
    assert made == expected
    assert structure(made) == IdStructure(place, gender, year)


@pytest.mark.parametrize(("year", "serial"), [(1899, 1), (2400, 1), (2000, -1), (2000, 1_000_000)])
def test_make_id12_out_of_range(year: int, serial: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        make_id12("001", M, year, serial)
