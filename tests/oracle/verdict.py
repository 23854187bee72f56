"""The verdict on a claim against a register record, and its wire form."""

from __future__ import annotations

import datetime as dt
import functools

from tests.oracle.cards import check_card
from tests.oracle.dates import match_date
from tests.oracle.names import match_name
from verify.domain.model import (
    CardCheck,
    CardResult,
    CitizenRecord,
    Claim,
    FieldOutcome,
    FieldResult,
    LifeStatus,
    Outcome,
    Verdict,
)

NOT_PROVIDED = FieldResult(FieldOutcome.NOT_PROVIDED)
CARD_REASONS = {
    CardResult.REVOKED: "card_revoked",
    CardResult.SUPERSEDED: "card_superseded",
    CardResult.EXPIRED: "card_expired",
    CardResult.UNKNOWN_CARD: "card_unknown",
}


def _gender(claim: Claim, record: CitizenRecord) -> FieldResult:
    if claim.gender is None:
        return NOT_PROVIDED
    same = claim.gender is record.gender
    return FieldResult(FieldOutcome.MATCH if same else FieldOutcome.NO_MATCH)


def _fails(result: FieldResult, accept_partial: bool) -> bool:
    return result.result is FieldOutcome.NO_MATCH or (
        result.result is FieldOutcome.PARTIAL and not accept_partial
    )


def _reasons(outcome: Outcome, claim: Claim, deceased: bool) -> tuple[str, ...]:
    named = (
        ("full_name", outcome.full_name),
        ("booking_name", outcome.booking_name),
        ("date_of_birth", outcome.date_of_birth),
        ("gender", outcome.gender),
    )
    reasons = [name for name, result in named if result and _fails(result, claim.accept_partial)]
    if outcome.card is not None and outcome.card.result in CARD_REASONS:
        reasons.append(CARD_REASONS[outcome.card.result])
    if claim.require_card and claim.card_issue_date is None:
        reasons.append("card_not_provided")
    if deceased:
        reasons.append("deceased")
    return tuple(reasons)


def _name(claimed: str | None, register: str) -> FieldResult:
    return match_name(claimed, register) if claimed else NOT_PROVIDED


def evaluate(claim: Claim, record: CitizenRecord | None, today: dt.date) -> Outcome:
    """Compare ``claim`` with ``record`` (None: no such person) as of ``today``.

    The verdict is ``match`` iff there is no reason against it; reasons come in a
    stable order: full_name, booking_name, date_of_birth, gender, the card's
    (``card_not_provided`` when the claim requires a card and gives none), deceased.
    """
    if record is None:
        return Outcome(Verdict.NOT_FOUND)
    fields = Outcome(
        Verdict.NO_MATCH,
        full_name=_name(claim.full_name, record.full_name),
        date_of_birth=match_date(claim.birth, record.birth) if claim.birth else NOT_PROVIDED,
        gender=_gender(claim, record),
        card=check_card(record.cards, claim.card_issue_date, today),
        booking_name=_name(claim.booking_name, record.full_name) if claim.booking_name else None,
    )
    reasons = _reasons(fields, claim, record.status is LifeStatus.DECEASED)
    verdict = Verdict.NO_MATCH if reasons else Verdict.MATCH
    return Outcome(
        verdict,
        full_name=fields.full_name,
        date_of_birth=fields.date_of_birth,
        gender=fields.gender,
        card=fields.card,
        booking_name=fields.booking_name,
        reasons=reasons,
    )


@functools.lru_cache(maxsize=1024)
def _field_json(result: FieldResult | None) -> dict[str, object]:
    """The wire form of a field result. Results repeat (they are small frozen values), so
    the dicts are memoised: they are shared and must be treated as read-only."""
    out: dict[str, object] = {"result": (result or NOT_PROVIDED).result.value}
    if result is not None and result.rule is not None:
        out["rule"] = result.rule.value
    return out


def _card_json(card: CardCheck | None) -> dict[str, object]:
    return {"result": (card or CardCheck(CardResult.NOT_PROVIDED)).result.value}


def outcome_to_json(outcome: Outcome) -> dict[str, object]:
    """The response body of DESIGN.md's /v1/verify, less ``request_id`` and ``reference``.

    ``fields`` is empty when the verdict is ``not_found``; ``rule`` is left out when
    unset (a gender has none); ``booking_name`` is there only when the claim gave one.
    No number derived from the register is ever part of it.
    """
    fields: dict[str, object] = {}
    if outcome.verdict is not Verdict.NOT_FOUND:
        fields = {
            "full_name": _field_json(outcome.full_name),
            "date_of_birth": _field_json(outcome.date_of_birth),
            "gender": _field_json(outcome.gender),
            "card": _card_json(outcome.card),
        }
        if outcome.booking_name is not None:
            fields["booking_name"] = _field_json(outcome.booking_name)
    return {"verdict": outcome.verdict.value, "fields": fields, "reasons": list(outcome.reasons)}
