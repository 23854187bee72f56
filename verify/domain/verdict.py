"""The verdict on a claim against a register record, and its wire form."""

from __future__ import annotations

import datetime as dt
import functools

from verify.domain.cards import check_card
from verify.domain.dates import match_date
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
from verify.domain.names import match_name

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


def _reasons(outcome: Outcome, accept_partial: bool, deceased: bool) -> tuple[str, ...]:
    named = (
        ("full_name", outcome.full_name),
        ("date_of_birth", outcome.date_of_birth),
        ("gender", outcome.gender),
    )
    reasons = [name for name, result in named if result and _fails(result, accept_partial)]
    if outcome.card is not None and outcome.card.result in CARD_REASONS:
        reasons.append(CARD_REASONS[outcome.card.result])
    if deceased:
        reasons.append("deceased")
    return tuple(reasons)


def evaluate(claim: Claim, record: CitizenRecord | None, today: dt.date) -> Outcome:
    """Compare ``claim`` with ``record`` (None: no such person) as of ``today``.

    The verdict is ``match`` iff there is no reason against it; reasons come in a
    stable order: full_name, date_of_birth, gender, the card's, deceased.
    """
    if record is None:
        return Outcome(Verdict.NOT_FOUND)
    fields = Outcome(
        Verdict.NO_MATCH,
        full_name=match_name(claim.full_name, record.full_name)
        if claim.full_name
        else NOT_PROVIDED,
        date_of_birth=match_date(claim.birth, record.birth) if claim.birth else NOT_PROVIDED,
        gender=_gender(claim, record),
        card=check_card(record.cards, claim.card_issue_date, today),
    )
    deceased = record.status is LifeStatus.DECEASED
    reasons = _reasons(fields, claim.accept_partial, deceased)
    verdict = Verdict.NO_MATCH if reasons else Verdict.MATCH
    return Outcome(
        verdict, fields.full_name, fields.date_of_birth, fields.gender, fields.card, reasons
    )


@functools.lru_cache(maxsize=1024)
def _field_json(result: FieldResult | None) -> dict[str, object]:
    """The wire form of a field result. Results repeat (they are small frozen values), so
    the dicts are memoised: they are shared and must be treated as read-only."""
    out: dict[str, object] = {"result": (result or NOT_PROVIDED).result.value}
    if result is not None and result.rule is not None:
        out["rule"] = result.rule.value
    if result is not None and result.score is not None:
        out["score"] = result.score
    return out


def _card_json(card: CardCheck | None) -> dict[str, object]:
    return {"result": (card or CardCheck(CardResult.NOT_PROVIDED)).result.value}


def outcome_to_json(outcome: Outcome) -> dict[str, object]:
    """The response body of DESIGN.md's /v1/verify, less ``request_id`` and ``reference``.

    ``fields`` is empty when the verdict is ``not_found``; ``rule`` and ``score`` are
    left out when unset (a date or gender has no score).
    """
    fields: dict[str, object] = {}
    if outcome.verdict is not Verdict.NOT_FOUND:
        fields = {
            "full_name": _field_json(outcome.full_name),
            "date_of_birth": _field_json(outcome.date_of_birth),
            "gender": _field_json(outcome.gender),
            "card": _card_json(outcome.card),
        }
    return {"verdict": outcome.verdict.value, "fields": fields, "reasons": list(outcome.reasons)}
