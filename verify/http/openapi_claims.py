"""The claim's schema in /openapi.json, stating every rule the server enforces on it.

Patterns are built from the domain's own constants (province codes, year range,
lengths), so the document cannot drift from the parser; tests/unit/test_openapi_claims.py
checks them against the parsers. Regular expressions use only the ECMA-262 subset
that JSON Schema validators share.
"""

from __future__ import annotations

import calendar
import unicodedata
from typing import Any

from verify.domain.claims import MAX_PURPOSE, MAX_REFERENCE, MAX_TERMINAL
from verify.domain.dates import MAX_YEAR, MIN_YEAR
from verify.domain.id_number import FORMER_ID_LENGTH
from verify.domain.name_text import FORBIDDEN_CATEGORIES
from verify.domain.names import MAX_NAME_LENGTH
from verify.domain.provinces import COUNTRY_CODES, PROVINCES
from verify.domain.qr import MAX_LENGTH as QR_MAX_LENGTH


def _class(chars: list[str]) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in chars)


# what the server's str.strip() and str.split() take for white space (ECMA's \s differs)
_SPACE_CHARS = _class([chr(c) for c in range(0x3000 + 1) if chr(c).isspace()])
WS = f"[{_SPACE_CHARS}]"
NON_WS = f"[^{_SPACE_CHARS}]"


def _any(options: list[str]) -> str:
    return "(?:" + "|".join(options) + ")"


def _places() -> str:
    codes = sorted(set(PROVINCES) | {f"{c:03d}" for c in COUNTRY_CODES})
    by_head: dict[str, list[str]] = {}
    for code in codes:
        by_head.setdefault(code[:2], []).append(code[2])
    return _any([f"{head}[{''.join(tails)}]" for head, tails in by_head.items()])


ID12 = _places() + "[0-9]{9}"
FORMER = f"[0-9]{{{FORMER_ID_LENGTH}}}"
ID_NUMBER = f"^{WS}*(?:{ID12}|{FORMER}){WS}*$"  # surrounding spaces are dropped


def _years(leap: bool) -> str:
    """The years MIN_YEAR..MAX_YEAR (or only their leap years), compactly."""
    years = [y for y in range(MIN_YEAR, MAX_YEAR + 1) if calendar.isleap(y) or not leap]
    centuries: dict[int, dict[int, list[int]]] = {}
    for y in years:
        centuries.setdefault(y // 100, {}).setdefault(y // 10 % 10, []).append(y % 10)
    options = []
    for century, decades in centuries.items():
        if not leap and len(decades) == 10 and all(len(d) == 10 for d in decades.values()):
            options.append(f"{century}[0-9]{{2}}")
            continue
        tails = [
            f"{decade}[0-9]" if len(units) == 10 else f"{decade}[{''.join(map(str, units))}]"
            for decade, units in decades.items()
        ]
        options.append(f"{century}{_any(tails)}")
    return _any(options)


def _days(n: int) -> str:
    return {28: "(?:0[1-9]|1[0-9]|2[0-8])", 30: "(?:0[1-9]|[12][0-9]|30)"}.get(
        n, "(?:0[1-9]|[12][0-9]|3[01])"
    )


_MONTHS = {31: "(?:0[13578]|1[02])", 30: "(?:0[469]|11)", 28: "02"}
YEAR = _years(leap=False)
LEAP_YEAR = _years(leap=True)
ISO_DATE = _any([f"{YEAR}-{_MONTHS[n]}-{_days(n)}" for n in (31, 30, 28)] + [f"{LEAP_YEAR}-02-29"])
DDMMYYYY = _any([f"{_days(n)}{_MONTHS[n]}{YEAR}" for n in (31, 30, 28)] + [f"2902{LEAP_YEAR}"])
# Nam / Nữ in any case, composed or decomposed (the server compares NFC, case-folded)
NAM = "[Nn][Aa][Mm]"
NU = "[Nn](?:[Ữữ]|[Ưư]\u0303|[Ũũ]\u031b|[Uu](?:\u031b\u0303|\u0303\u031b))"
GENDER = f"^{WS}*(?:[Mm][Aa][Ll][Ee]|[Ff][Ee][Mm][Aa][Ll][Ee]|{NAM}|{NU}){WS}*$"


# no control or format character (the server's has_forbidden_character; a JSON text
# cannot carry a lone surrogate, so surrogates are left out of the class)
def _ranges(codes: list[int]) -> str:
    out, start = [], 0
    for i, code in enumerate(codes):
        if i + 1 == len(codes) or codes[i + 1] != code + 1:
            first = codes[start]
            out.append(f"\\u{first:04x}" + (f"-\\u{code:04x}" if code != first else ""))
            start = i + 1
    return "".join(out)


_FORBIDDEN = _ranges(
    [c for c in range(0x10000) if unicodedata.category(chr(c)) in FORBIDDEN_CATEGORIES - {"Cs"}]
)
ALLOWED = f"[^{_FORBIDDEN}]"
# a letter: ASCII or Vietnamese (the server wants at least one letter; patterns stay in
# the shared regex subset, so the class lists what a Vietnamese name is written with)
_LETTER = "[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]"
NAME = f"^{ALLOWED}*{_LETTER}{ALLOWED}*$"
TERMINAL = f"^{ALLOWED}+$"
PURPOSE = f"^[A-Za-z0-9_.:-]{{1,{MAX_PURPOSE}}}$"
_S = f"{WS}*"
_QR_NAME = f"{_S}{_LETTER}[^|{_FORBIDDEN}]{{0,{MAX_NAME_LENGTH - 1}}}"  # from a letter on
_DATE = f"{_S}(?:{DDMMYYYY})?{_S}"
_REST = f"(?:\\|{_S}(?:{NAM}|{NU})?{_S}(?:\\|[^|]*(?:\\|{_DATE})?)?)?"
# a claim must check something: the QR's name, or with no name its birth date (a payload
# with neither, only a gender or issue date, is accepted by the server but left out here:
# the pattern stays small enough to generate from)
QR = (
    f"^\ufeff?{_S}{ID12}{_S}\\|{_S}(?:{FORMER})?{_S}\\|"
    f"(?:{_QR_NAME}(?:\\|{_DATE}{_REST})?|{_S}\\|{_S}{DDMMYYYY}{_S}{_REST})$"
)

_NULL = {"type": "null"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """A null value counts as not provided."""
    return {**schema, "type": [schema["type"], "null"]}


_NAME: dict[str, Any] = {"type": "string", "maxLength": MAX_NAME_LENGTH, "pattern": NAME}

CONTEXT_PROPERTIES: dict[str, Any] = {
    "purpose": _nullable({"type": "string", "pattern": PURPOSE}),
    "reference": _nullable({"type": "string", "minLength": 1, "maxLength": MAX_REFERENCE}),
    "accept_partial": _nullable({"type": "boolean", "default": False}),
    "require_card": _nullable(
        {
            "type": "boolean",
            "default": False,
            "description": "A claim without a card is then no_match (card_not_provided).",
        }
    ),
    "booking_name": _nullable(
        {
            **_NAME,
            "description": "A second name for the same person, e.g. NGUYEN/VAN AN MR; "
            "checked like full_name, answered in fields.booking_name.",
        }
    ),
    "terminal": _nullable(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TERMINAL,
            "pattern": TERMINAL,
            "description": "The counter or kiosk that made the check (audit).",
        }
    ),
}

FIELD_PROPERTIES: dict[str, Any] = {
    "id_number": {
        "type": "string",
        "pattern": ID_NUMBER,
        "description": "12-digit personal ID (digits 1-3 a province or country code), "
        "or a former 9-digit CMND number.",
    },
    "full_name": _nullable({**_NAME, "description": "No control or format characters."}),
    "date_of_birth": _nullable(
        {
            "type": "string",
            "pattern": f"^(?:{ISO_DATE}|{YEAR})$",
            "description": f"YYYY-MM-DD or YYYY, years {MIN_YEAR}-{MAX_YEAR}",
        }
    ),
    "gender": _nullable(
        {"type": "string", "pattern": GENDER, "description": "male / female / Nam / Nữ, any case"}
    ),
    "card_issue_date": _nullable({"type": "string", "pattern": f"^{ISO_DATE}$"}),
}

_CHECKED = ("full_name", "booking_name", "date_of_birth", "gender", "card_issue_date")

FIELDS_CLAIM: dict[str, Any] = {
    "type": "object",
    "title": "Claimed fields",
    "description": "Something to check (a name, booking name, birth date, gender or card) "
    "besides the ID: an ID alone is a 400 nothing_to_verify.",
    "additionalProperties": False,
    "required": ["id_number"],
    "properties": {**FIELD_PROPERTIES, "qr": _NULL, **CONTEXT_PROPERTIES},
    "anyOf": [{"required": [name], "properties": {name: {"not": _NULL}}} for name in _CHECKED],
}

QR_CLAIM: dict[str, Any] = {
    "type": "object",
    "title": "Card QR payload",
    "description": "qr cannot be combined with the claimed fields (they may only be null).",
    "additionalProperties": False,
    "required": ["qr"],
    "properties": {
        "qr": {
            "type": "string",
            "maxLength": QR_MAX_LENGTH,
            "pattern": QR,
            "description": "id12|former id|full name|DDMMYYYY|Nam or Nữ|address|DDMMYYYY; "
            "trailing fields may be missing or empty",
        },
        **{key: _NULL for key in FIELD_PROPERTIES},
        **CONTEXT_PROPERTIES,
    },
}

AN_FIELDS = {
    "id_number": "001203012345",
    "full_name": "Nguyễn Văn An",
    "date_of_birth": "2003-05-14",
    "gender": "male",
    "card_issue_date": "2021-07-01",
    "purpose": "airport_checkin",
    "reference": "PNR-4XK2",
}
AN_QR = {"qr": "001203012345|012345678|Nguyễn Văn An|14052003|Nam|Thôn 3, xã X, Hà Nội|01072021"}

VERIFY_REQUEST: dict[str, Any] = {
    "description": "Either the claimed fields (id_number required) or the card's QR payload.",
    "oneOf": [FIELDS_CLAIM, QR_CLAIM],
    "examples": [AN_FIELDS, AN_QR],
}

# a batch or stream item: a claim, or anything else, which gets its problem in place
ANY_ITEM: dict[str, Any] = {
    "anyOf": [VERIFY_REQUEST, {}],
    "description": "A VerifyRequest; an invalid item gets its problem in place.",
}
