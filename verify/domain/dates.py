"""Dates of a claim: parsing (strict) and matching against the register."""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Final

from verify.domain.errors import ValidationError
from verify.domain.model import FieldOutcome, FieldResult, PartialDate, Precision, Rule

MIN_YEAR: Final = 1850
MAX_YEAR: Final = 2300

_ISO_DAY: Final = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_YEAR: Final = re.compile(r"[0-9]{4}")
ISO_LENGTH: Final = 10
# the answers (frozen values): shared rather than built per claim
_EXACT: Final = FieldResult(FieldOutcome.MATCH, Rule.EXACT)
_YEAR_ONLY: Final = FieldResult(FieldOutcome.MATCH, Rule.YEAR_ONLY)
_SWAPPED: Final = FieldResult(FieldOutcome.PARTIAL, Rule.DAY_MONTH_SWAPPED)
_NO_MATCH: Final = FieldResult(FieldOutcome.NO_MATCH)
_DDMMYYYY: Final = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{4})")


def _invalid(field: str, expected: str) -> ValidationError:
    return ValidationError("invalid_date", f"{field} must be {expected}", field)


def _calendar_date(year: str, month: str, day: str, field: str, expected: str) -> dt.date:
    if not MIN_YEAR <= int(year) <= MAX_YEAR:
        raise _invalid(field, f"{expected} with a year from {MIN_YEAR} to {MAX_YEAR}")
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise _invalid(field, f"a real calendar date ({expected})") from None


# every day from which a living person's birth or a card's issue is asked about: ~45,000
# (120 years), so a register's random people hit it (a smaller memo kept a third of them)
DAY_MEMO_MAX: Final = 1 << 16  # ~10 MB for each of the two memos below, at most


@functools.lru_cache(maxsize=DAY_MEMO_MAX)
def iso_day(raw: str) -> dt.date | None:
    """The day a well-formed ``YYYY-MM-DD`` in range names, else None. Memoised: the days
    asked about repeat (births, card issues) and every claim has one or two."""
    if _ISO_DAY.fullmatch(raw) is None:  # ASCII digits in YYYY-MM-DD, nothing else
        return None
    try:  # of that shape, the C parser reads exactly the date the groups name
        day = dt.date.fromisoformat(raw)
    except ValueError:  # no such day (2023-02-30), or year 0000
        return None
    return day if MIN_YEAR <= day.year <= MAX_YEAR else None


@functools.lru_cache(maxsize=DAY_MEMO_MAX)
def iso_partial(raw: str) -> PartialDate | None:
    """:func:`iso_day` as a PartialDate: a shared frozen value, not one made per claim."""
    day = iso_day(raw)
    return None if day is None else PartialDate(day)


def parse_partial_date(raw: object, field: str) -> PartialDate:
    """``YYYY-MM-DD`` or ``YYYY`` (ASCII digits only, years 1850-2300), else ``invalid_date``."""
    expected = "YYYY-MM-DD or YYYY"
    # only a value of the right length reaches the memo: an oversized one is never kept
    if isinstance(raw, str) and len(raw) == ISO_LENGTH and (known := iso_partial(raw)):
        return known
    if isinstance(raw, str) and _YEAR.fullmatch(raw):
        day = _calendar_date(raw, "1", "1", field, expected)
        return PartialDate(day, Precision.YEAR)
    return PartialDate(_parse_iso(raw, field, expected))


def parse_date(raw: object, field: str) -> dt.date:
    """A full ``YYYY-MM-DD`` date, else ``invalid_date``."""
    return _parse_iso(raw, field, "YYYY-MM-DD")


def _parse_iso(raw: object, field: str, expected: str) -> dt.date:
    # only a value of the right length reaches the memo: an oversized one is never kept
    known = iso_day(raw) if isinstance(raw, str) and len(raw) == ISO_LENGTH else None
    if known is not None:
        return known
    found = _ISO_DAY.fullmatch(raw) if isinstance(raw, str) else None
    if found is None:
        raise _invalid(field, expected)
    year, month, day = found.groups()
    return _calendar_date(year, month, day, field, expected)


def parse_ddmmyyyy(raw: str, field: str) -> dt.date:
    """A ``DDMMYYYY`` date as the card's QR code writes it, else ``invalid_date``."""
    found = _DDMMYYYY.fullmatch(raw)
    if found is None:
        raise _invalid(field, "DDMMYYYY")
    day, month, year = found.groups()
    return _calendar_date(year, month, day, field, "DDMMYYYY")


def _swapped(day: dt.date) -> dt.date | None:
    if day.day == day.month or day.day > 12:
        return None
    return dt.date(day.year, day.day, day.month)


def match_date(claim: PartialDate, register: PartialDate) -> FieldResult:
    """Equal -> match/exact; year-only on either side, same year -> match/year_only;
    day and month swapped -> partial/day_month_swapped; otherwise no_match."""
    if claim.value == register.value and claim.precision == register.precision:
        return _EXACT
    if claim.precision == Precision.YEAR or register.precision == Precision.YEAR:
        return _YEAR_ONLY if claim.value.year == register.value.year else _NO_MATCH
    if _swapped(claim.value) == register.value:
        return _SWAPPED
    return _NO_MATCH
