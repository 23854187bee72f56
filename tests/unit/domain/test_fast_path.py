"""The optimised verify path gives exactly the answers of the plain one (tests/oracle).

Parsing (claims, names, dates), matching, ``evaluate`` and ``outcome_to_json`` are compared
with the copies of the modules as they were before the per-item CPU work, over generated
bodies and records: the same claim or the same error (code, detail, field), the same outcome,
the same wire form. Every input is given twice, so the memoised functions answer once from
their computation and once from their memo.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cases import INVALID_CASES, REGISTER, TODAY
from tests.name_cases import NAME_CASES
from tests.oracle import claims as plain_claims
from tests.oracle import name_text as plain_text
from tests.oracle import names as plain_names
from tests.oracle import verdict as plain_verdict
from verify.domain import claims, name_text, names, verdict
from verify.domain.errors import ValidationError
from verify.domain.model import (
    Card,
    CardState,
    CitizenRecord,
    Claim,
    Gender,
    LifeStatus,
    PartialDate,
    Precision,
)
from verify.service.audit import subject_of

PROPERTY = settings(database=None, deadline=None, max_examples=400)

NAMES = sorted({n for c in NAME_CASES for n in (c.claim, c.register)})
NAMES += [e.record.full_name for e in REGISTER]
MARKS = st.sampled_from(["\u0300", "\u0301", "\u0303", "\u0309", "\u0323", "\u031b", "\u0302"])
ODD = st.sampled_from(["\u00d0", "\u2019", "`", "\u2013", "-", "'", "/", "\t", "\x00", "\u200b",
                       "\u00b2", "\u2167", "_", "1", "  ", "\ud800", "ß", "İ"])  # fmt: skip
WORD = st.text(alphabet="aăâbdđeêghiklmnoôơpqrstuưvxyAĐNUYO", min_size=1, max_size=8)
PIECE = WORD | MARKS | ODD | st.just(" ")
MADE_UP = st.lists(PIECE, max_size=12).map("".join)
NAME = st.sampled_from(NAMES) | MADE_UP | st.text(max_size=30)
NAME_VALUE = NAME | NAME.map(str.upper) | st.integers() | st.none() | st.just("x" * 201)

FULLWIDTH_2020 = "\uff12\uff10\uff12\uff10"  # digits, but not ASCII ones
DATES = st.dates(dt.date(1840, 1, 1), dt.date(2310, 12, 31))
DATE_TEXT = (
    DATES.map(dt.date.isoformat)
    | DATES.map(lambda d: str(d.year))
    | st.sampled_from(["2023-02-30", "2023-13-01", "1849-12-31", "2301-01-01", FULLWIDTH_2020,
                       "2020-1-01", "20200101", "2020-W01-1", " 2020-01-01", "2020", "0000"])
    | st.text(max_size=12)
)  # fmt: skip
DATE_VALUE = DATE_TEXT | st.integers() | st.none() | st.booleans()
GENDER_VALUE = st.sampled_from(
    ["male", "female", "nam", "nữ", "Nam", "NỮ", " male ", "Nu\u031b\u0303", "m", "", "Male"]
) | st.text(max_size=6) | st.none() | st.integers()  # fmt: skip
PURPOSES = ["bench", "kyc", "a.b:c-d_9", "p" * 64, "p" * 65, "bad purpose"]
PURPOSE_VALUE = st.sampled_from(PURPOSES) | st.text(max_size=8) | st.none() | st.integers()
IDS = [e.record.id_number for e in REGISTER] + ["012345678", "999999999999"]
ID_VALUE = (
    st.sampled_from(IDS) | st.from_regex(r" ?[0-9]{8,13} ?", fullmatch=True)
    | st.none() | st.integers()
)  # fmt: skip
FLAG = st.booleans() | st.none() | st.integers(0, 1)
TEXT_VALUE = st.text(max_size=70) | st.none() | st.integers()

FIELDS: dict[str, st.SearchStrategy[object]] = {
    "id_number": ID_VALUE, "full_name": NAME_VALUE, "date_of_birth": DATE_VALUE,
    "gender": GENDER_VALUE, "card_issue_date": DATE_VALUE, "purpose": PURPOSE_VALUE,
    "reference": TEXT_VALUE, "accept_partial": FLAG, "require_card": FLAG,
    "booking_name": NAME_VALUE, "terminal": TEXT_VALUE,
    "qr": st.sampled_from(["001203012345||Nguyễn Văn An|14052003|Nam|Hà Nội|01072021"])
    | st.text(max_size=20),
    "date_of_brith": st.just("2000-01-01"),
}  # fmt: skip
BODY = st.fixed_dictionaries(
    {"id_number": ID_VALUE},
    optional={key: value for key, value in FIELDS.items() if key != "id_number"},
)
BODIES = BODY | st.dictionaries(st.sampled_from(sorted(FIELDS)), st.none() | st.text(max_size=5))


def _outcome(parse: Callable[[object], object], body: object) -> object:
    try:
        return parse(body)
    except ValidationError as e:
        return ("error", e.code, e.detail, e.field)


@PROPERTY
@given(BODIES)
def test_parse_claim_gives_the_plain_claim_or_error(body: dict[str, object]) -> None:
    expected = _outcome(plain_claims.parse_claim, body)
    assert _outcome(claims.parse_claim, body) == expected
    assert _outcome(claims.parse_claim, body) == expected  # from the memos


# the usual body (claims._fast_claim's lane): valid values as written, now and then one
# that is not, a null, a padded ID or a former one
USUAL = st.fixed_dictionaries(
    {"id_number": st.sampled_from(IDS) | ID_VALUE},
    optional={
        "full_name": st.sampled_from(NAMES) | NAME_VALUE,
        "date_of_birth": DATES.map(dt.date.isoformat) | DATE_VALUE,
        "gender": st.sampled_from(["male", "female", "nam", "nữ"]) | GENDER_VALUE,
        "card_issue_date": DATES.map(dt.date.isoformat) | DATE_VALUE,
        "purpose": st.sampled_from(PURPOSES) | PURPOSE_VALUE,
    },
)


@PROPERTY
@given(USUAL)
def test_the_usual_body_gives_the_plain_claim_or_error(body: dict[str, object]) -> None:
    expected = _outcome(plain_claims.parse_claim, body)
    assert _outcome(claims.parse_claim, body) == expected
    assert _outcome(claims.parse_claim, body) == expected  # from the memos


def test_the_invalid_cases_give_the_plain_errors() -> None:
    for case in INVALID_CASES:
        assert _outcome(claims.parse_claim, case.body) == _outcome(
            plain_claims.parse_claim, case.body
        ), case.name


@PROPERTY
@given(NAME, NAME)
def test_names_normalise_and_match_as_the_plain_rules(claim: str, register: str) -> None:
    for _ in range(2):
        assert name_text.normalise(claim) == plain_text.normalise(claim)
        assert name_text.skeleton(claim) == plain_text.skeleton(claim)
        assert name_text.has_forbidden_character(claim) == plain_text.has_forbidden_character(claim)
        assert names.match_name(claim, register) == plain_names.match_name(claim, register)
        assert _outcome(lambda raw: names.parse_name(raw, "f"), claim) == _outcome(
            lambda raw: plain_names.parse_name(raw, "f"), claim
        )


# whitespace of every kind next to marks, open syllables and variants: a name's form is made
# of its words' forms (name_text._normalise_word), which must join to the whole name's form
SPACES = st.sampled_from([" ", "\t", "\u00a0", "\u2000", "\u2001", "\u3000", "\x1c", "\u2028"])
NEAR_SPACE = st.sampled_from(
    ["\u0301", "\u0323", "\u031b", "\u0345", "\u1dc0", *"oauyqÐ\u2019\u2013`ıßİ"]
)
SPACED = st.lists(SPACES | NEAR_SPACE | WORD | MARKS | st.characters(), max_size=14).map("".join)


@PROPERTY
@given(SPACED)
def test_a_name_normalises_as_its_words_do(name: str) -> None:
    for _ in range(2):
        assert name_text.normalise(name) == plain_text.normalise(name)


def test_the_name_table_matches_as_the_plain_rules() -> None:
    for case in NAME_CASES:
        assert names.match_name(case.claim, case.register) == plain_names.match_name(
            case.claim, case.register
        )


CARD = st.builds(Card, DATES, st.none() | DATES, st.sampled_from(list(CardState)))
RECORD = st.builds(
    CitizenRecord,
    id_number=st.just("001203012345"),
    full_name=st.sampled_from(NAMES) | MADE_UP,
    birth=st.builds(PartialDate, DATES, st.sampled_from(list(Precision))),
    gender=st.sampled_from(list(Gender)),
    status=st.sampled_from(list(LifeStatus)),
    cards=st.lists(CARD, max_size=4).map(tuple),  # any order: the rules must not assume one
    version=st.just(1),
)


def _claims_on(record: CitizenRecord) -> st.SearchStrategy[Claim]:
    issue_dates = st.sampled_from([c.issue_date for c in record.cards]) if record.cards else DATES
    return st.builds(
        Claim,
        id_number=st.just(record.id_number),
        full_name=st.none() | st.just(record.full_name) | NAME,
        birth=st.none()
        | st.just(record.birth)
        | st.builds(PartialDate, DATES, st.sampled_from(list(Precision))),
        gender=st.none() | st.sampled_from(list(Gender)),
        card_issue_date=st.none() | issue_dates | DATES,
        accept_partial=st.booleans(),
        booking_name=st.none() | NAME,
        require_card=st.booleans(),
    )


@PROPERTY
@given(st.data(), RECORD | st.none(), DATES | st.just(TODAY))
def test_evaluate_and_its_wire_form_are_the_plain_ones(
    data: st.DataObject, record: CitizenRecord | None, today: dt.date
) -> None:
    claim = data.draw(_claims_on(record) if record else _claims_on(REGISTER[0].record))
    expected = plain_verdict.evaluate(claim, record, today)
    for _ in range(2):
        outcome = verdict.evaluate(claim, record, today)
        assert outcome == expected
        assert verdict.outcome_to_json(outcome) == plain_verdict.outcome_to_json(expected)


def test_the_register_cases_evaluate_as_the_plain_rules() -> None:
    for entry in REGISTER:
        record = entry.record
        card = record.cards[-1].issue_date if record.cards else None
        claim = Claim(record.id_number, record.full_name, record.birth, record.gender, card)
        expected = plain_verdict.evaluate(claim, record, TODAY)
        assert verdict.evaluate(claim, record, TODAY) == expected


@given(st.binary(min_size=1, max_size=64), st.from_regex(r"[0-9]{9,12}", fullmatch=True))
@PROPERTY
def test_the_subject_is_the_plain_hmac(key: bytes, id_number: str) -> None:
    expected = hmac.new(key, id_number.encode("ascii"), hashlib.sha256).digest()
    assert subject_of(key, id_number) == expected
