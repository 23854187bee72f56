"""Verdicts, reasons and the response shape."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from verify.domain.model import (
    Card,
    CardCheck,
    CardResult,
    CardState,
    CitizenRecord,
    Claim,
    FieldOutcome,
    FieldResult,
    Gender,
    LifeStatus,
    Outcome,
    PartialDate,
    Precision,
    Rule,
    Verdict,
)
from verify.domain.verdict import evaluate, outcome_to_json

D = dt.date
TODAY = D(2026, 11, 28)
ID = "001203012345"
RECORD = CitizenRecord(
    ID,
    "Nguyễn Văn An",
    PartialDate(D(2003, 5, 14)),
    Gender.MALE,
    LifeStatus.LIVING,
    (Card(D(2021, 7, 1), D(2028, 5, 14), CardState.ACTIVE),),
    version=3,
)
FULL = Claim(ID, "Nguyễn Văn An", PartialDate(D(2003, 5, 14)), Gender.MALE, D(2021, 7, 1))
NP = FieldResult(FieldOutcome.NOT_PROVIDED)


def test_not_found() -> None:
    outcome = evaluate(FULL, None, TODAY)
    assert outcome == Outcome(Verdict.NOT_FOUND)
    assert outcome_to_json(outcome) == {"verdict": "not_found", "fields": {}, "reasons": []}


def test_full_match() -> None:
    assert evaluate(FULL, RECORD, TODAY) == Outcome(
        Verdict.MATCH,
        FieldResult(FieldOutcome.MATCH, Rule.EXACT),
        FieldResult(FieldOutcome.MATCH, Rule.EXACT),
        FieldResult(FieldOutcome.MATCH),
        CardCheck(CardResult.VALID),
    )


def test_id_only_claim_has_every_field_not_provided() -> None:
    assert evaluate(Claim(ID), RECORD, TODAY) == Outcome(
        Verdict.MATCH, NP, NP, NP, CardCheck(CardResult.NOT_PROVIDED)
    )


def replace(claim: Claim = FULL, **changes: object) -> Claim:
    return dataclasses.replace(claim, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("claim", "record", "reasons"),
    [
        (FULL, RECORD, ()),
        (replace(full_name="Trần Văn Bình"), RECORD, ("full_name",)),
        (replace(full_name="Văn An Nguyễn"), RECORD, ("full_name",)),
        (replace(full_name="Văn An Nguyễn", accept_partial=True), RECORD, ()),
        (replace(birth=PartialDate(D(2003, 1, 1), Precision.YEAR)), RECORD, ()),
        (replace(birth=PartialDate(D(2003, 5, 15))), RECORD, ("date_of_birth",)),
        (replace(gender=Gender.FEMALE), RECORD, ("gender",)),
        (replace(card_issue_date=D(2020, 1, 1)), RECORD, ("card_unknown",)),
        (replace(card_issue_date=None), RECORD, ()),
        (FULL, dataclasses.replace(RECORD, status=LifeStatus.DECEASED), ("deceased",)),
        (
            replace(full_name="Lê Thị Thu", birth=PartialDate(D(1990, 1, 1)),
                    gender=Gender.FEMALE, card_issue_date=D(2020, 1, 1)),
            dataclasses.replace(RECORD, status=LifeStatus.DECEASED),
            ("full_name", "date_of_birth", "gender", "card_unknown", "deceased"),
        ),
        (replace(full_name="NGUYEN/VAN AN", gender=Gender.FEMALE), RECORD, ("gender",)),
        (replace(full_name="Nguyễn Văn Anh", accept_partial=True), RECORD, ("full_name",)),
        (replace(full_name="Nguyễn Vân An"), RECORD, ("full_name",)),
        (replace(full_name="Nguyễn Vân An", accept_partial=True), RECORD, ()),
        (replace(booking_name="NGUYEN/VANAN MR"), RECORD, ()),
        (replace(booking_name="NGUYEN/VAN ANH MR"), RECORD, ("booking_name",)),
        (replace(booking_name="VAN AN NGUYEN"), RECORD, ("booking_name",)),
        (replace(booking_name="VAN AN NGUYEN", accept_partial=True), RECORD, ()),
        (replace(full_name="Trần Văn An", booking_name="TRAN/VAN AN", birth=None), RECORD,
         ("full_name", "booking_name")),
        (replace(require_card=True), RECORD, ()),
        (replace(card_issue_date=None, require_card=True), RECORD, ("card_not_provided",)),
        (replace(card_issue_date=None, require_card=True),
         dataclasses.replace(RECORD, status=LifeStatus.DECEASED),
         ("card_not_provided", "deceased")),
        (replace(card_issue_date=D(2020, 1, 1), require_card=True), RECORD, ("card_unknown",)),
    ],
)  # fmt: skip
def test_reasons(claim: Claim, record: CitizenRecord, reasons: tuple[str, ...]) -> None:
    outcome = evaluate(claim, record, TODAY)
    assert outcome.reasons == reasons
    assert outcome.verdict is (Verdict.NO_MATCH if reasons else Verdict.MATCH)


@pytest.mark.parametrize(
    ("state", "cards_after", "today", "result", "reason"),
    [
        (CardState.LOST, (), TODAY, CardResult.REVOKED, "card_revoked"),
        (CardState.REVOKED, (), TODAY, CardResult.REVOKED, "card_revoked"),
        (CardState.ACTIVE, (Card(D(2025, 1, 1), None, CardState.ACTIVE),), TODAY,
         CardResult.SUPERSEDED, "card_superseded"),
        (CardState.ACTIVE, (), D(2028, 5, 15), CardResult.EXPIRED, "card_expired"),
        (CardState.ACTIVE, (), D(2028, 5, 14), CardResult.VALID, None),
    ],
)  # fmt: skip
def test_card_reasons(
    state: CardState,
    cards_after: tuple[Card, ...],
    today: dt.date,
    result: CardResult,
    reason: str | None,
) -> None:
    card = dataclasses.replace(RECORD.cards[0], state=state)
    record = dataclasses.replace(RECORD, cards=(card, *cards_after))
    outcome = evaluate(FULL, record, today)
    assert outcome.card == CardCheck(result)
    assert outcome.reasons == ((reason,) if reason else ())


def test_partial_date_accepted_only_when_asked() -> None:
    record = dataclasses.replace(RECORD, birth=PartialDate(D(2003, 4, 5)))
    claim = replace(birth=PartialDate(D(2003, 5, 4)))
    outcome = evaluate(claim, record, TODAY)
    assert outcome.date_of_birth == FieldResult(FieldOutcome.PARTIAL, Rule.DAY_MONTH_SWAPPED)
    assert outcome.reasons == ("date_of_birth",)
    assert evaluate(replace(claim, accept_partial=True), record, TODAY).reasons == ()


def test_outcome_to_json_shape() -> None:
    claim = replace(full_name="NGUYEN/VAN AN", birth=PartialDate(D(2003, 4, 5)), gender=None)
    record = dataclasses.replace(RECORD, birth=PartialDate(D(2003, 5, 4)))
    assert outcome_to_json(evaluate(claim, record, TODAY)) == {
        "verdict": "no_match",
        "fields": {
            "full_name": {"result": "match", "rule": "airline"},
            "date_of_birth": {"result": "partial", "rule": "day_month_swapped"},
            "gender": {"result": "not_provided"},
            "card": {"result": "valid"},
        },
        "reasons": ["date_of_birth"],
    }


def test_booking_name_is_answered_only_when_claimed() -> None:
    without = outcome_to_json(evaluate(FULL, RECORD, TODAY))
    assert "booking_name" not in without["fields"]  # type: ignore[operator]
    claim = replace(booking_name="Văn An Nguyễn")
    assert outcome_to_json(evaluate(claim, RECORD, TODAY)) == {
        "verdict": "no_match",
        "fields": {
            "full_name": {"result": "match", "rule": "exact"},
            "date_of_birth": {"result": "match", "rule": "exact"},
            "gender": {"result": "match"},
            "card": {"result": "valid"},
            "booking_name": {"result": "partial", "rule": "reordered"},
        },
        "reasons": ["booking_name"],
    }


def test_no_number_in_any_answer() -> None:
    """No score or other number derived from the register, whatever the claim."""
    for name in ("n", "Nguyễn Văn Anh", "Nguyễn Văn Bình", "NGUYEN/VAN AN", "Văn An Nguyễn"):
        body = outcome_to_json(evaluate(replace(full_name=name, booking_name=name), RECORD, TODAY))
        assert not any(ch.isdigit() for ch in repr(body)), body


def test_outcome_to_json_fills_missing_fields() -> None:
    assert outcome_to_json(Outcome(Verdict.MATCH)) == {
        "verdict": "match",
        "fields": {
            "full_name": {"result": "not_provided"},
            "date_of_birth": {"result": "not_provided"},
            "gender": {"result": "not_provided"},
            "card": {"result": "not_provided"},
        },
        "reasons": [],
    }


def test_outcome_json_memo_tells_outcomes_apart_by_their_parts() -> None:
    """Wire forms are memoised by the identity of an outcome's parts: equal but distinct
    parts give equal JSON, other values or reasons their own, and a caller adding a key to
    its dict changes no later answer."""
    match, also_match = (
        FieldResult(FieldOutcome.MATCH, Rule.EXACT),
        FieldResult(FieldOutcome.MATCH, Rule.EXACT),
    )
    no, card = FieldResult(FieldOutcome.NO_MATCH), CardCheck(CardResult.VALID)
    first = outcome_to_json(Outcome(Verdict.MATCH, match, match, match, card))
    first["reference"] = "mine"
    again = outcome_to_json(Outcome(Verdict.MATCH, match, match, match, card))
    assert "reference" not in again
    assert again == outcome_to_json(Outcome(Verdict.MATCH, also_match, match, match, card))
    other = outcome_to_json(Outcome(Verdict.NO_MATCH, no, match, match, card, None, ("full_name",)))
    assert other["fields"]["full_name"] == {"result": "no_match"}  # type: ignore[index]
    assert other["reasons"] == ["full_name"]
    booking = Outcome(Verdict.NO_MATCH, no, match, match, card, match, ("full_name", "x"))
    assert outcome_to_json(booking)["reasons"] == ["full_name", "x"]
    assert "booking_name" in outcome_to_json(booking)["fields"]  # type: ignore[operator]


def test_outcome_json_memo_is_bounded() -> None:
    from verify.domain.verdict import _ByParts

    wires = _ByParts(limit=2)
    results = [FieldResult(FieldOutcome.MATCH) for _ in range(5)]  # distinct parts
    for result in results:
        wire = wires(Outcome(Verdict.MATCH, result, result, result, CardCheck(CardResult.VALID)))
        assert wire["verdict"] == "match"
    assert len(wires._known) == 2
