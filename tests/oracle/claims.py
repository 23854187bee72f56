"""A /v1/verify request body (decoded JSON) read as a :class:`Claim`.

Either the fields (``id_number`` required) or ``qr``, which only ``purpose``,
``reference``, ``accept_partial``, ``require_card``, ``booking_name`` and ``terminal``
may accompany. A null value counts as not provided. A claim must give something to
check (a name, booking name, birth date, gender or card): an ID alone is refused with
``nothing_to_verify``, never answered ``match`` after checking nothing. An unknown key
is an error (``unknown_field``): a typo such as "date_of_brith" silently ignored would
turn into a match without the check.
Messages never echo values (they may be personal data).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from tests.oracle.dates import parse_date, parse_partial_date
from tests.oracle.name_text import has_forbidden_character
from tests.oracle.names import parse_name
from tests.oracle.qr import parse_qr
from verify.domain.errors import ValidationError
from verify.domain.id_number import parse_id_number
from verify.domain.model import Claim, Gender

T = TypeVar("T")

MAX_PURPOSE = 64
MAX_REFERENCE = 128
MAX_TERMINAL = 64
MAX_KEY_IN_ERROR = 64
_PURPOSE = re.compile(r"[A-Za-z0-9_.:-]+")
_GENDERS = {"male": Gender.MALE, "nam": Gender.MALE, "female": Gender.FEMALE, "nữ": Gender.FEMALE}


def _invalid(field: str, expected: str) -> ValidationError:
    return ValidationError("invalid_field", f"{field} must be {expected}", field)


def _gender(raw: object, field: str) -> Gender:
    word = unicodedata.normalize("NFC", raw).strip().casefold() if isinstance(raw, str) else ""
    if word not in _GENDERS:
        raise _invalid(field, "male or female (or Nam or Nữ)")
    return _GENDERS[word]


def parse_purpose(raw: object, field: str = "purpose") -> str:
    if not isinstance(raw, str) or len(raw) > MAX_PURPOSE or not _PURPOSE.fullmatch(raw):
        raise _invalid(field, f"1 to {MAX_PURPOSE} characters of A-Z a-z 0-9 _ . : -")
    return raw


def _reference(raw: object, field: str) -> str:
    if not isinstance(raw, str) or not 1 <= len(raw) <= MAX_REFERENCE:
        raise _invalid(field, f"a string of 1 to {MAX_REFERENCE} characters")
    return raw


def _terminal(raw: object, field: str) -> str:
    if (
        not isinstance(raw, str)
        or not 1 <= len(raw) <= MAX_TERMINAL
        or has_forbidden_character(raw)
    ):
        raise _invalid(field, f"a string of 1 to {MAX_TERMINAL} characters, no control characters")
    return raw


def _flag(raw: object, field: str) -> bool:
    if not isinstance(raw, bool):
        raise _invalid(field, "true or false")
    return raw


_WITH_QR = frozenset(
    {"qr", "purpose", "reference", "accept_partial", "require_card", "booking_name", "terminal"}
)
_KNOWN = _WITH_QR | {"id_number", "full_name", "date_of_birth", "gender", "card_issue_date"}


def _provided(obj: object) -> dict[str, object]:
    """The non-null entries of a JSON object; every key must be known."""
    if not isinstance(obj, Mapping):
        raise ValidationError("invalid_request", "the request body must be a JSON object")
    for key in obj:
        if not isinstance(key, str):
            raise ValidationError("invalid_request", "the request body must be a JSON object")
        if key not in _KNOWN:
            raise ValidationError("unknown_field", "unknown field", key[:MAX_KEY_IN_ERROR])
    return {key: value for key, value in obj.items() if value is not None}


def _optional(values: dict[str, object], key: str, parse: Callable[[object, str], T]) -> T | None:
    return parse(values[key], key) if key in values else None


def _context(values: dict[str, object]) -> dict[str, Any]:
    """What a claim may carry with the fields or with ``qr``, as Claim keyword arguments."""
    return {
        "purpose": _optional(values, "purpose", parse_purpose),
        "reference": _optional(values, "reference", _reference),
        "accept_partial": _optional(values, "accept_partial", _flag) or False,
        "require_card": _optional(values, "require_card", _flag) or False,
        "booking_name": _optional(values, "booking_name", parse_name),
        "terminal": _optional(values, "terminal", _terminal),
    }


def _from_qr(values: dict[str, object]) -> Claim:
    extra = sorted(set(values) - _WITH_QR)
    if extra:
        detail = "qr cannot be combined with other claim fields"
        raise ValidationError("invalid_request", detail, extra[0])
    return dataclasses.replace(parse_qr(values["qr"]), **_context(values))


def _from_fields(values: dict[str, object]) -> Claim:
    if "id_number" not in values:
        raise ValidationError("missing_field", "id_number is required", "id_number")
    return Claim(
        id_number=parse_id_number(values["id_number"], "id_number"),
        full_name=_optional(values, "full_name", parse_name),
        birth=_optional(values, "date_of_birth", parse_partial_date),
        gender=_optional(values, "gender", _gender),
        card_issue_date=_optional(values, "card_issue_date", parse_date),
        **_context(values),  # one construction: dataclasses.replace costs as much again
    )


def _checks_something(claim: Claim) -> bool:
    return any(
        value is not None
        for value in (
            claim.full_name,
            claim.birth,
            claim.gender,
            claim.card_issue_date,
            claim.booking_name,
        )
    )


def parse_claim(obj: object) -> Claim:
    """The claim of a request body; raises :class:`ValidationError` when it is malformed."""
    values = _provided(obj)
    claim = _from_qr(values) if "qr" in values else _from_fields(values)
    if not _checks_something(claim):
        detail = "the claim gives nothing to check: a name, birth date, gender or card"
        raise ValidationError("nothing_to_verify", detail, "qr" if "qr" in values else None)
    return claim
