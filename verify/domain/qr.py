"""The CCCD chip card's QR payload, read as a claim.

``id12|former id|full name|DDMMYYYY|Nam or Nữ|address|DDMMYYYY issue date``, plain
UTF-8 and unsigned: it proves nothing by itself, it is a way to submit a claim.
Scanners type the payload, so it is read tolerantly (DESIGN.md, "QR payloads"): only the
ID (and at least one ``|``, which tells a payload from a bare number) is required; an
empty field counts as missing; the last field, when the payload was cut short inside it
(``0107`` for an issue date, ``N`` for a gender), counts as missing too; fields after the
seventh (newer card formats) are ignored; the gender is ``Nam`` or ``Nữ`` in any case,
also unaccented (``NU``).
The former ID is checked for form but not used (the 12-digit ID is); the address
is not verified.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Final

from verify.domain.dates import parse_ddmmyyyy
from verify.domain.errors import ValidationError
from verify.domain.id_number import is_valid_former, parse_id_number
from verify.domain.model import Claim, Gender, PartialDate
from verify.domain.names import parse_name

FIELD: Final = "qr"
SEPARATOR: Final = "|"
MAX_LENGTH: Final = 1024
MAX_FIELDS: Final = 7
_BOM: Final = "\ufeff"
_GENDERS: Final = {"nam": Gender.MALE, "nữ": Gender.FEMALE, "nu": Gender.FEMALE}
_DATE_DIGITS: Final = 8
_FORMER_DIGITS: Final = 9
_FORMER, _BIRTH, _GENDER, _ISSUE = 1, 3, 4, 6
_GENDER_WORDS: Final = {
    gender: word for word, gender in (("Nam", Gender.MALE), ("Nữ", Gender.FEMALE))
}


def _invalid(detail: str) -> ValidationError:
    return ValidationError("invalid_qr", detail, FIELD)


def _split(payload: object) -> list[str]:
    if not isinstance(payload, str):
        raise _invalid("qr must be a string")
    if len(payload) > MAX_LENGTH:
        raise _invalid(f"qr must be at most {MAX_LENGTH} characters")
    text = payload.removeprefix(_BOM).strip()
    if SEPARATOR not in text and not _bare_id(text):
        raise _invalid("qr is not a card QR payload (no '|' separator)")
    every = [part.strip() for part in text.split(SEPARATOR)]
    fields, last = every[:MAX_FIELDS], len(every) - 1
    if last < MAX_FIELDS and _cut_short(last, fields[last]):
        fields[last] = ""
    return fields + [""] * (MAX_FIELDS - len(fields))


def _bare_id(text: str) -> bool:
    """A payload holding only a 12-digit number: a QR with the ID and nothing to check,
    answered 400 nothing_to_verify like ``id|`` rather than invalid_qr."""
    return len(text) == 12 and text.isascii() and text.isdigit()


def _cut_short(index: int, value: str) -> bool:
    """Whether the payload's last field looks like the start of a longer value that the
    scanner cut off: a date or former ID with too few digits, a gender's first letters.
    (A cut name or address cannot be told from a whole one: those are read as they are.)"""
    if not value:
        return False
    if index in (_BIRTH, _ISSUE):
        return value.isascii() and value.isdigit() and len(value) < _DATE_DIGITS
    if index == _FORMER:
        return value.isascii() and value.isdigit() and len(value) < _FORMER_DIGITS
    if index == _GENDER:
        word = unicodedata.normalize("NFC", value).casefold()
        return word not in _GENDERS and any(g.startswith(word) for g in _GENDERS)
    return False


def _gender(word: str) -> Gender | None:
    if not word:
        return None
    gender = _GENDERS.get(unicodedata.normalize("NFC", word).casefold())
    if gender is None:
        raise _invalid("qr gender must be Nam or Nữ")
    return gender


def _date(raw: str) -> dt.date | None:
    return parse_ddmmyyyy(raw, FIELD) if raw else None


def parse_qr(payload: object) -> Claim:
    """The claim a QR payload makes; ``invalid_qr`` (or ``invalid_id_number`` /
    ``invalid_date``, field ``qr``) when it is not a valid payload."""
    id12, former, name, birth, gender, _address, issue = _split(payload)
    id_number = parse_id_number(id12, FIELD, allow_former=False)
    if former and not is_valid_former(former):
        raise _invalid("qr former ID number must be 9 digits")
    birth_date = _date(birth)
    return Claim(
        id_number=id_number,
        full_name=parse_name(name, FIELD, "invalid_qr") if name else None,
        birth=PartialDate(birth_date) if birth_date else None,
        gender=_gender(gender),
        card_issue_date=_date(issue),
    )


def _ddmmyyyy(day: dt.date) -> str:
    return f"{day.day:02d}{day.month:02d}{day.year:04d}"


def build_qr(
    id12: str,
    full_name: str,
    birth: dt.date,
    gender: Gender,
    address: str,
    issue: dt.date | None,
    former: str = "",
) -> str:
    """The payload a card carries (without the issue date field when ``issue`` is None)."""
    fields = [id12, former, full_name, _ddmmyyyy(birth), _GENDER_WORDS[gender], address]
    if issue is not None:
        fields.append(_ddmmyyyy(issue))
    return SEPARATOR.join(fields)
