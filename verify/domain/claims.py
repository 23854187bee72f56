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
import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from verify.domain import dates, id_number, names
from verify.domain.build import slot_setters
from verify.domain.dates import parse_date, parse_partial_date
from verify.domain.errors import ValidationError
from verify.domain.id_number import parse_id_number
from verify.domain.model import Claim, Gender, PartialDate
from verify.domain.name_text import has_forbidden_character
from verify.domain.names import parse_name
from verify.domain.qr import parse_qr

T = TypeVar("T")

MAX_PURPOSE: Final = 64
MAX_REFERENCE: Final = 128
MAX_TERMINAL: Final = 64
MAX_KEY_IN_ERROR: Final = 64
_PURPOSE: Final = re.compile(r"[A-Za-z0-9_.:-]+")
_GENDERS: Final = {
    "male": Gender.MALE,
    "nam": Gender.MALE,
    "female": Gender.FEMALE,
    "nữ": Gender.FEMALE,
}


def _invalid(field: str, expected: str) -> ValidationError:
    return ValidationError("invalid_field", f"{field} must be {expected}", field)


def _gender(raw: object, field: str) -> Gender:
    if isinstance(raw, str) and raw in _GENDERS:  # as written: NFC, trimmed, folded already
        return _GENDERS[raw]
    word = unicodedata.normalize("NFC", raw).strip().casefold() if isinstance(raw, str) else ""
    if word not in _GENDERS:
        raise _invalid(field, "male or female (or Nam or Nữ)")
    return _GENDERS[word]


@functools.lru_cache(maxsize=256)
def _good_purpose(raw: str) -> bool:
    """Memoised: a relying party uses a handful of purposes, on every claim."""
    return _PURPOSE.fullmatch(raw) is not None


def parse_purpose(raw: object, field: str = "purpose") -> str:
    # the length first: only a purpose that may be good reaches the memo
    if not isinstance(raw, str) or len(raw) > MAX_PURPOSE or not _good_purpose(raw):
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


_WITH_QR: Final = frozenset(
    {"qr", "purpose", "reference", "accept_partial", "require_card", "booking_name", "terminal"}
)
_FIELDS: Final = frozenset({"id_number", "full_name", "date_of_birth", "gender", "card_issue_date"})
_KNOWN: Final = _WITH_QR | _FIELDS
_FIELDS_AND_PURPOSE: Final = _FIELDS | {"purpose"}
_CLAIM_FIELDS = (
    "id_number", "full_name", "birth", "gender", "card_issue_date", "purpose", "reference",
    "accept_partial", "booking_name", "require_card", "terminal",
)  # fmt: skip
_new = object.__new__
_S_ID, _S_NAME, _S_BIRTH, _S_GENDER, _S_CARD, _S_PURPOSE, *_S_REST = slot_setters(
    Claim, _CLAIM_FIELDS
)
_S_REF, _S_PARTIAL, _S_BOOKING, _S_REQUIRE, _S_TERMINAL = _S_REST


def _plain_claim(
    id_number: str,
    full_name: str | None,
    birth: PartialDate | None,
    gender: Gender | None,
    card_issue_date: dt.date | None,
    purpose: str | None,
) -> Claim:
    """``Claim(id_number, full_name, birth, gender, card_issue_date, purpose)`` without the
    frozen ``__init__`` (verify/domain/build.py): the claim of most batch items."""
    claim = _new(Claim)
    _S_ID(claim, id_number)
    _S_NAME(claim, full_name)
    _S_BIRTH(claim, birth)
    _S_GENDER(claim, gender)
    _S_CARD(claim, card_issue_date)
    _S_PURPOSE(claim, purpose)
    _S_REF(claim, None)
    _S_PARTIAL(claim, False)
    _S_BOOKING(claim, None)
    _S_REQUIRE(claim, False)
    _S_TERMINAL(claim, None)
    return claim


def _provided(obj: object) -> dict[str, object]:
    """The non-null entries of a JSON object; every key must be known."""
    if type(obj) is not dict and not isinstance(obj, Mapping):  # skip the ABC check for JSON
        raise ValidationError("invalid_request", "the request body must be a JSON object")
    if _KNOWN.issuperset(obj):  # the usual body: every key known (so a str)
        if type(obj) is dict and None not in obj.values():
            return obj  # read only from here on: no copy (one allocation less per item)
        return {key: value for key, value in obj.items() if value is not None}
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
    """The fields' claim: each parsed in the order of the contract's list (the first error
    is the one answered); absent and null alike are None (:func:`_provided` drops nulls).
    One plain ``get`` per field: this runs for every item of every batch."""
    get = values.get
    raw_id = get("id_number")
    if raw_id is None:
        raise ValidationError("missing_field", "id_number is required", "id_number")
    id_number = parse_id_number(raw_id, "id_number")
    name, birth, gender, card = (
        get("full_name"), get("date_of_birth"), get("gender"), get("card_issue_date")
    )  # fmt: skip
    full_name = None if name is None else parse_name(name, "full_name")
    birth_date = None if birth is None else parse_partial_date(birth, "date_of_birth")
    sex = None if gender is None else _gender(gender, "gender")
    issue = None if card is None else parse_date(card, "card_issue_date")
    if _FIELDS_AND_PURPOSE.issuperset(values):  # of the context, at most a purpose
        purpose = get("purpose")
        return _plain_claim(
            id_number, full_name, birth_date, sex, issue,
            None if purpose is None else parse_purpose(purpose, "purpose"),
        )  # fmt: skip
    return Claim(id_number, full_name, birth_date, sex, issue, **_context(values))


# the fast lane's checks: each value as the full parser would accept it unchanged
_ID_PLACES: Final = frozenset(
    f"{code:03d}" for code in range(1000) if id_number.is_place(f"{code:03d}")
)
_ID12: Final = id_number.ID_LENGTH
_ISO_LENGTH: Final = dates.ISO_LENGTH
_MAX_NAME: Final = names.MAX_NAME_LENGTH
_well_formed_name = names.well_formed
_iso_partial = dates.iso_partial
_iso_day = dates.iso_day


def _fast_claim(values: dict[str, object]) -> Claim | None:  # noqa: C901 (flat on purpose)
    """The claim of the usual body, with the full parsers' memos called directly, or None
    to leave it to :func:`_from_fields`: a body of the fields and a purpose, no nulls, a
    12-digit ID without spaces, names, days and a purpose that are valid as written, and
    something to check. On any other body None, so every error (and its order) is the
    full path's; a claim made here is the one the full path makes (test_fast_path.py)."""
    get = values.get
    raw_id, name, birth, gender, card, purpose = (
        get("id_number"), get("full_name"), get("date_of_birth"), get("gender"),
        get("card_issue_date"), get("purpose"),
    )  # fmt: skip
    if not (
        type(raw_id) is str
        and len(raw_id) == _ID12
        and raw_id.isascii()
        and raw_id.isdigit()
        and raw_id[:3] in _ID_PLACES
    ):
        return None
    full_name = birth_date = sex = issue = None
    if name is not None:
        if type(name) is not str or len(name) > _MAX_NAME:
            return None
        full_name = _well_formed_name(name)
        if full_name is None:
            return None
    if birth is not None:
        if type(birth) is not str or len(birth) != _ISO_LENGTH:
            return None
        birth_date = _iso_partial(birth)
        if birth_date is None:
            return None
    if gender is not None:
        sex = _GENDERS.get(gender) if type(gender) is str else None
        if sex is None:
            return None
    if card is not None:
        if type(card) is not str or len(card) != _ISO_LENGTH:
            return None
        issue = _iso_day(card)
        if issue is None:
            return None
    if purpose is not None and (
        type(purpose) is not str or len(purpose) > MAX_PURPOSE or not _good_purpose(purpose)
    ):
        return None
    if full_name is None and birth_date is None and sex is None and issue is None:
        return None  # nothing to check: the full path says so
    return _plain_claim(raw_id, full_name, birth_date, sex, issue, purpose)


def parse_claim(obj: object) -> Claim:
    """The claim of a request body; raises :class:`ValidationError` when it is malformed."""
    if type(obj) is dict and _FIELDS_AND_PURPOSE.issuperset(obj):  # keys are then all str
        claim = _fast_claim(obj)
        if claim is not None:
            return claim
    values = _provided(obj)
    claim = _from_qr(values) if "qr" in values else _from_fields(values)
    if not claim.checks_something():
        detail = "the claim gives nothing to check: a name, birth date, gender or card"
        raise ValidationError("nothing_to_verify", detail, "qr" if "qr" in values else None)
    return claim
