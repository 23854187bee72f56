"""The 12-digit personal ID number and the former 9-digit CMND number.

Digits 1-3: birth-registration province (the 63 codes) or country (101-295);
digit 4: century and gender (0/1 = 1900s male/female, 2/3 = 2000s, ...);
digits 5-6: the last two digits of the birth year; digits 7-12: random.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from verify.domain.errors import ValidationError
from verify.domain.model import Gender
from verify.domain.provinces import COUNTRY_CODES, PROVINCES

ID_LENGTH: Final = 12
FORMER_ID_LENGTH: Final = 9
FIRST_CENTURY: Final = 1900  # digit 4 = 0/1


@dataclass(frozen=True, slots=True)
class IdStructure:
    place_code: str  # province or country code, 3 digits
    gender: Gender
    birth_year: int


def is_place(code: str) -> bool:
    """Whether a 3-digit code is a province's or a country's."""
    return code in PROVINCES or int(code) in COUNTRY_CODES


def structure(id12: str) -> IdStructure:
    """Decode digits 1-6 of a valid 12-digit number."""
    digit4 = int(id12[3])
    century = FIRST_CENTURY + (digit4 // 2) * 100
    gender = Gender.FEMALE if digit4 % 2 else Gender.MALE
    return IdStructure(id12[:3], gender, century + int(id12[4:6]))


def is_valid_id12(value: str) -> bool:
    return len(value) == ID_LENGTH and value.isascii() and value.isdigit() and is_place(value[:3])


def is_valid_former(value: str) -> bool:
    return len(value) == FORMER_ID_LENGTH and value.isascii() and value.isdigit()


def parse_id_number(raw: object, field: str = "id_number", *, allow_former: bool = True) -> str:
    """A 12-digit personal ID (or, when allowed, a 9-digit CMND), surrounding spaces dropped.

    Raises :class:`ValidationError` ``invalid_id_number``; the message never echoes the value.
    """
    if not isinstance(raw, str):
        raise ValidationError("invalid_id_number", f"{field} must be a string of digits", field)
    value = raw.strip()
    if is_valid_id12(value) or (allow_former and is_valid_former(value)):
        return value
    if len(value) == ID_LENGTH and value.isascii() and value.isdigit():
        detail = f"{field} does not start with a known province or country code"
    elif allow_former:
        detail = f"{field} must be a 12-digit personal ID or a 9-digit former ID number"
    else:
        detail = f"{field} must be a 12-digit personal ID number"
    raise ValidationError("invalid_id_number", detail, field)


def make_id12(place_code: str, gender: Gender, birth_year: int, serial: int) -> str:
    """The ID number that digits 1-6 say: for the seed and tests. ``serial`` is 0..999999."""
    century_index = (birth_year - FIRST_CENTURY) // 100
    if not 0 <= century_index <= 4 or not 0 <= serial <= 999_999:
        raise ValueError("birth year or serial out of range")
    digit4 = century_index * 2 + (1 if gender is Gender.FEMALE else 0)
    return f"{place_code}{digit4}{birth_year % 100:02d}{serial:06d}"
