"""Date parsing and matching (DESIGN.md, "Matching rules": dates)."""

from __future__ import annotations

import datetime as dt

import pytest

from verify.domain.dates import match_date, parse_date, parse_ddmmyyyy, parse_partial_date
from verify.domain.errors import ValidationError
from verify.domain.model import FieldOutcome, FieldResult, PartialDate, Precision, Rule

D = dt.date


def day(year: int, month: int, day_: int) -> PartialDate:
    return PartialDate(D(year, month, day_))


def year(value: int) -> PartialDate:
    return PartialDate(D(value, 1, 1), Precision.YEAR)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2003-05-14", day(2003, 5, 14)),
        ("2000-02-29", day(2000, 2, 29)),
        ("1850-01-01", day(1850, 1, 1)),
        ("2300-12-31", day(2300, 12, 31)),
        ("2003", year(2003)),
        ("1850", year(1850)),
        ("2300", year(2300)),
    ],
)
def test_parse_partial_date(raw: str, expected: PartialDate) -> None:
    assert parse_partial_date(raw, "date_of_birth") == expected


INVALID = [
    "",
    " 2003-05-14",
    "2003-05-14 ",
    "2003-05-14\n",
    "2003-5-14",
    "03-05-14",
    "2003/05/14",
    "14/05/2003",
    "20030514",
    "2003-02-29",
    "2003-13-01",
    "2003-00-10",
    "2003-01-32",
    "1849",
    "2301",
    "1849-12-31",
    "2301-01-01",
    "٢٠٠٣",
    "\uff12\uff10\uff10\uff13",  # full-width digits
    "+2003",
    "2003-05-14T00:00:00",
    None,
    2003,
    20.03,
    True,
    ["2003"],
]


@pytest.mark.parametrize("raw", INVALID)
def test_parse_partial_date_invalid(raw: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_partial_date(raw, "date_of_birth")
    assert (caught.value.code, caught.value.field) == ("invalid_date", "date_of_birth")


def test_parse_date() -> None:
    assert parse_date("2021-07-01", "card_issue_date") == D(2021, 7, 1)


@pytest.mark.parametrize("raw", ["2021", *INVALID])
def test_parse_date_invalid(raw: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_date(raw, "card_issue_date")
    assert (caught.value.code, caught.value.field) == ("invalid_date", "card_issue_date")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("14052003", D(2003, 5, 14)), ("29022000", D(2000, 2, 29)), ("01011850", D(1850, 1, 1))],
)
def test_parse_ddmmyyyy(raw: str, expected: dt.date) -> None:
    assert parse_ddmmyyyy(raw, "qr") == expected


@pytest.mark.parametrize(
    "raw", ["", "1405203", "140520031", "29022003", "31042003", "14/05/2003", "2003-05-14",
            "01011849", "\uff11\uff14\uff10\uff15\uff12\uff10\uff10\uff13", "14052003\n"],
)  # fmt: skip
def test_parse_ddmmyyyy_invalid(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_ddmmyyyy(raw, "qr")
    assert (caught.value.code, caught.value.field) == ("invalid_date", "qr")


MATCH, PARTIAL, NO = FieldOutcome.MATCH, FieldOutcome.PARTIAL, FieldOutcome.NO_MATCH


@pytest.mark.parametrize(
    ("claim", "register", "expected"),
    [
        (day(2003, 5, 14), day(2003, 5, 14), FieldResult(MATCH, Rule.EXACT)),
        (year(2003), year(2003), FieldResult(MATCH, Rule.EXACT)),
        (year(2003), day(2003, 5, 14), FieldResult(MATCH, Rule.YEAR_ONLY)),
        (day(2003, 5, 14), year(2003), FieldResult(MATCH, Rule.YEAR_ONLY)),
        (day(2003, 1, 1), year(2003), FieldResult(MATCH, Rule.YEAR_ONLY)),
        (year(2004), day(2003, 5, 14), FieldResult(NO)),
        (day(2004, 1, 1), year(2003), FieldResult(NO)),
        (year(2004), year(2003), FieldResult(NO)),
        (day(1988, 7, 4), day(1988, 4, 7), FieldResult(PARTIAL, Rule.DAY_MONTH_SWAPPED)),
        (day(1988, 12, 1), day(1988, 1, 12), FieldResult(PARTIAL, Rule.DAY_MONTH_SWAPPED)),
        (day(1989, 7, 4), day(1988, 4, 7), FieldResult(NO)),  # swapped, other year
        (day(1988, 4, 8), day(1988, 4, 7), FieldResult(NO)),
        (day(1988, 5, 14), day(1988, 5, 15), FieldResult(NO)),
        (day(1988, 5, 14), day(1988, 4, 15), FieldResult(NO)),  # day 14 cannot be a month
        (day(1988, 3, 3), day(1988, 3, 4), FieldResult(NO)),
    ],
)
def test_match_date(claim: PartialDate, register: PartialDate, expected: FieldResult) -> None:
    assert match_date(claim, register) == expected


@pytest.mark.parametrize(
    ("claim", "register"),
    [(day(1988, 5, 14), day(1988, 5, 14)), (day(1988, 6, 6), day(1988, 6, 6))],
)
def test_same_day_and_month_is_exact_not_swapped(claim: PartialDate, register: PartialDate) -> None:
    assert match_date(claim, register).rule is Rule.EXACT
