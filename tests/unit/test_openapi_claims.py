"""The claim patterns of /openapi.json accept exactly what the parsers accept.

Checked with jsonschema_rs, the validator schemathesis uses (ECMA-262 regular expressions).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.domain.claims import parse_claim
from verify.domain.dates import MAX_YEAR, MIN_YEAR, parse_date, parse_partial_date
from verify.domain.errors import ValidationError
from verify.domain.id_number import parse_id_number
from verify.domain.qr import parse_qr
from verify.http.openapi_claims import (
    AN_FIELDS,
    AN_QR,
    DDMMYYYY,
    GENDER,
    ID_NUMBER,
    ISO_DATE,
    QR,
    VERIFY_REQUEST,
)


def _matcher(pattern: str) -> Any:
    return jsonschema_rs.validator_for({"type": "string", "pattern": pattern}).is_valid


def _accepts(parse: Any, value: object) -> bool:
    try:
        parse(value)
    except ValidationError:
        return False
    return True


def test_id_number_pattern_is_the_parser() -> None:
    matches = _matcher(ID_NUMBER)
    for prefix in range(1000):
        for number in (f"{prefix:03d}203012345", f"{prefix:03d}203012", f" {prefix:03d}2030123"):
            assert matches(number) == _accepts(parse_id_number, number), number


def test_date_patterns_are_the_parser() -> None:
    iso, dmy = _matcher(f"^{ISO_DATE}$"), _matcher(f"^{DDMMYYYY}$")
    for year in [MIN_YEAR - 1, MIN_YEAR, 1900, 1999, 2000, 2024, 2100, MAX_YEAR, MAX_YEAR + 1]:
        for month in range(14):
            for day in range(33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                assert iso(text) == _accepts(lambda v: parse_date(v, "d"), text), text
                assert dmy(f"{day:02d}{month:02d}{year:04d}") == iso(text), text


@given(st.dates(min_value=dt.date(MIN_YEAR, 1, 1), max_value=dt.date(MAX_YEAR, 12, 31)))
def test_every_real_date_in_range_matches(day: dt.date) -> None:
    assert _matcher(f"^{ISO_DATE}$")(day.isoformat())
    assert _accepts(lambda v: parse_partial_date(v, "d"), day.isoformat())


@pytest.mark.parametrize(
    "word", ["male", "FEMALE", " Nam ", "nAM", "Nữ", "NỮ", "nu\u031b\u0303", "Nư\u0303", "nu", "m"]
)
def test_gender_pattern_is_the_parser(word: str) -> None:
    body = {"id_number": "001203012345", "gender": word}
    assert _matcher(GENDER)(word) == _accepts(parse_claim, body)


@given(st.text(alphabet="0123456789|NamữNữ x\ufeff", max_size=60))
def test_qr_pattern_never_admits_what_the_parser_refuses(text: str) -> None:
    payload = "001203012345" + text
    if _matcher(QR)(payload):
        assert _accepts(parse_qr, payload), payload


def test_claim_schema_examples_and_exclusivity() -> None:
    valid = jsonschema_rs.validator_for(VERIFY_REQUEST).is_valid
    assert valid(AN_FIELDS) and valid(AN_QR) and valid({**AN_QR, "full_name": None})
    assert not valid({**AN_QR, "id_number": "001203012345"})
    assert not valid({"full_name": "An"}) and not valid({**AN_FIELDS, "typo": 1})
    for body in (AN_FIELDS, AN_QR, {**AN_QR, "full_name": None}):
        assert _accepts(parse_claim, body)
    assert not _accepts(parse_claim, {**AN_QR, "id_number": "001203012345"})
