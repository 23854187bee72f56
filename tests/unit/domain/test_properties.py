"""Properties of the domain rules, over generated inputs (hypothesis)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from tests.cases import REGISTER, RegisterEntry
from verify.domain.cards import RENEWAL_AGES, age_on, birthday, card_expiry
from verify.domain.claims import parse_claim
from verify.domain.dates import MAX_YEAR, MIN_YEAR, parse_date, parse_partial_date
from verify.domain.errors import ValidationError
from verify.domain.id_number import make_id12, parse_id_number
from verify.domain.model import (
    Claim,
    FieldOutcome,
    FieldResult,
    Gender,
    PartialDate,
    Precision,
    Rule,
)
from verify.domain.name_text import skeleton
from verify.domain.names import fold, match_name, normalise
from verify.domain.provinces import PROVINCES
from verify.domain.qr import build_qr, parse_qr

PROPERTY = settings(database=None, deadline=None, max_examples=300)

DATES = st.dates(dt.date(MIN_YEAR, 1, 1), dt.date(MAX_YEAR, 12, 31))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["id_number", "full_name", "date_of_birth", "gender", "card_issue_date", "qr", "purpose",
     "reference", "accept_partial", "booking_name", "require_card", "terminal"]
)  # fmt: skip
DECODED_BYTES = st.binary().map(lambda raw: raw.decode("utf-8", "surrogateescape"))
DECODED_BYTES |= st.binary().map(lambda raw: raw.decode("utf-8", "replace"))
QR_LIKE = st.lists(st.text(max_size=20) | st.from_regex(r"[0-9]{8,12}", fullmatch=True)).map(
    "|".join
)
ANY_TEXT = st.text() | DECODED_BYTES | QR_LIKE


@PROPERTY
@given(ANY_TEXT)
def test_fold_is_idempotent_and_total(name: str) -> None:
    folded = fold(name)
    assert fold(folded) == folded
    assert normalise(folded) == folded


@PROPERTY
@given(ANY_TEXT)
def test_normalise_is_idempotent(name: str) -> None:
    assert normalise(normalise(name)) == normalise(name)


@PROPERTY
@given(ANY_TEXT)
@example("\u0131")  # dotless i: its capital is I
def test_a_name_matches_itself_exactly(name: str) -> None:
    if "/" in name or not skeleton(normalise(name)):
        return  # a slash reads as airline style; no letters is no name
    assert match_name(name, name) == FieldResult(FieldOutcome.MATCH, Rule.EXACT)
    assert match_name(name.upper(), name).result is FieldOutcome.MATCH


@PROPERTY
@given(ANY_TEXT, ANY_TEXT)
def test_match_name_is_total_and_scoreless(claim: str, register: str) -> None:
    result = match_name(claim, register)
    assert result.result is not FieldOutcome.NOT_PROVIDED
    assert (result.rule is None) == (result.result is FieldOutcome.NO_MATCH)
    assert dataclasses.fields(result) == dataclasses.fields(FieldResult(FieldOutcome.MATCH))
    assert [f.name for f in dataclasses.fields(result)] == ["result", "rule"]


PARSERS: list[Callable[[object], object]] = [
    parse_qr,
    parse_claim,
    parse_id_number,
    lambda raw: parse_date(raw, "card_issue_date"),
    lambda raw: parse_partial_date(raw, "date_of_birth"),
]


def _only_validation_errors(parse: Callable[[object], object], value: object) -> None:
    with contextlib.suppress(ValidationError):
        parse(value)


@PROPERTY
@given(ANY_TEXT | JSON)
def test_parsers_raise_only_validation_errors(value: object) -> None:
    for parse in PARSERS:
        _only_validation_errors(parse, value)


@PROPERTY
@given(st.dictionaries(KEYS | st.text(max_size=5), ANY_TEXT | JSON, max_size=6))
def test_parse_claim_raises_only_validation_errors(body: dict[str, object]) -> None:
    _only_validation_errors(parse_claim, body)


@PROPERTY
@given(st.dictionaries(KEYS, st.none() | ANY_TEXT | DATES.map(dt.date.isoformat), max_size=6))
def test_parse_claim_on_plausible_bodies(body: dict[str, object]) -> None:
    _only_validation_errors(parse_claim, body)


VIETNAMESE_WORDS = st.sampled_from(
    ["Nguyễn", "Trần", "Lê", "Phạm", "Đặng", "Văn", "Thị", "Hữu", "Đức", "Ngọc", "Hà", "Hạ",
     "Ánh", "Tuấn", "Phương", "Xuân", "An", "Ướt", "Quỳnh"]
)  # fmt: skip
NAMES = st.lists(VIETNAMESE_WORDS, min_size=1, max_size=5).map(" ".join) | st.text(
    st.characters(categories=("L", "M", "Zs"), exclude_characters="|"), min_size=1, max_size=60
)


@st.composite
def records(draw: st.DrawFn) -> tuple[str, str, dt.date, Gender, str, dt.date | None, str]:
    gender = draw(st.sampled_from(Gender))
    birth = draw(st.dates(dt.date(1900, 1, 1), dt.date(2299, 12, 31)))
    place = draw(st.sampled_from(sorted(PROVINCES)))
    id12 = make_id12(place, gender, birth.year, draw(st.integers(0, 999_999)))
    name = draw(NAMES)
    address = draw(st.text(st.characters(exclude_characters="|"), max_size=200))
    issue = draw(st.none() | DATES)
    former = draw(st.just("") | st.from_regex(r"[0-9]{9}", fullmatch=True))
    return id12, name, birth, gender, address, issue, former


@PROPERTY
@given(records())
def test_a_built_qr_parses_back(
    record: tuple[str, str, dt.date, Gender, str, dt.date | None, str],
) -> None:
    id12, name, birth, gender, address, issue, former = record
    assume(skeleton(normalise(name)))
    claim = parse_qr(build_qr(id12, name, birth, gender, address, issue, former))
    tidy = " ".join(unicodedata.normalize("NFC", name).split())
    assert claim == Claim(id12, tidy, PartialDate(birth), gender, issue)


@pytest.mark.parametrize(
    "entry",
    [entry for entry in REGISTER if entry.record.birth.precision is Precision.DAY],
    ids=lambda entry: entry.record.full_name,
)
def test_qr_of_every_register_entry_parses_back(entry: RegisterEntry) -> None:
    record = entry.record
    issue = record.cards[-1].issue_date if record.cards else None
    former = entry.former_ids[-1] if entry.former_ids else ""
    payload = build_qr(
        record.id_number, record.full_name, record.birth.value, record.gender, entry.address,
        issue, former,
    )  # fmt: skip
    expected = Claim(record.id_number, record.full_name, record.birth, record.gender, issue)
    assert parse_qr(payload) == expected


@PROPERTY
@given(DATES, DATES)
def test_card_expiry_is_never_or_a_renewal_birthday_after_issue(
    birth: dt.date, issue: dt.date
) -> None:
    expiry = card_expiry(birth, issue)
    age = age_on(birth, issue)
    if expiry is None:
        assert age >= RENEWAL_AGES[-1] - 2
        return
    assert expiry > issue
    assert expiry in {birthday(birth, renewal) for renewal in RENEWAL_AGES}
    assert age_on(birth, expiry) - age > 2 or age < RENEWAL_AGES[0] - 2
