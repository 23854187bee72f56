"""The verdict on a claim against a register record, and its wire form."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, Final

from verify.domain.build import slot_setters
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

NOT_PROVIDED: Final = FieldResult(FieldOutcome.NOT_PROVIDED)
CARD_REASONS: Final = {
    CardResult.REVOKED: "card_revoked",
    CardResult.SUPERSEDED: "card_superseded",
    CardResult.EXPIRED: "card_expired",
    CardResult.UNKNOWN_CARD: "card_unknown",
}


_GENDER: Final = {True: FieldResult(FieldOutcome.MATCH), False: FieldResult(FieldOutcome.NO_MATCH)}
NOT_FOUND: Final = Outcome(Verdict.NOT_FOUND)
_OUTCOME_FIELDS = (
    "verdict", "full_name", "date_of_birth", "gender", "card", "booking_name", "reasons"
)  # fmt: skip
_new = object.__new__
_S_VERDICT, _S_NAME, _S_BIRTH, _S_GENDER, _S_CARD, _S_BOOKING, _S_REASONS = slot_setters(
    Outcome, _OUTCOME_FIELDS
)


def _outcome(
    verdict: Verdict,
    full_name: FieldResult,
    birth: FieldResult,
    gender: FieldResult,
    card: CardCheck,
    booking: FieldResult | None,
    reasons: tuple[str, ...],
) -> Outcome:
    """``Outcome(...)`` by position without the frozen ``__init__`` (verify/domain/build.py)."""
    made = _new(Outcome)
    _S_VERDICT(made, verdict)
    _S_NAME(made, full_name)
    _S_BIRTH(made, birth)
    _S_GENDER(made, gender)
    _S_CARD(made, card)
    _S_BOOKING(made, booking)
    _S_REASONS(made, reasons)
    return made


def _fails(result: FieldResult, accept_partial: bool) -> bool:
    return result.result is FieldOutcome.NO_MATCH or (
        result.result is FieldOutcome.PARTIAL and not accept_partial
    )


def _reasons(
    fields: tuple[FieldResult, FieldResult | None, FieldResult, FieldResult],
    card: CardCheck,
    claim: Claim,
    deceased: bool,
) -> tuple[str, ...]:
    """The reasons against a match, in the stable order (plain ifs: no per-call table)."""
    accept_partial = claim.accept_partial
    full_name, booking_name, date_of_birth, gender = fields
    reasons: list[str] = []
    if _fails(full_name, accept_partial):
        reasons.append("full_name")
    if booking_name is not None and _fails(booking_name, accept_partial):
        reasons.append("booking_name")
    if _fails(date_of_birth, accept_partial):
        reasons.append("date_of_birth")
    if _fails(gender, accept_partial):
        reasons.append("gender")
    if card.result in CARD_REASONS:
        reasons.append(CARD_REASONS[card.result])
    if claim.require_card and claim.card_issue_date is None:
        reasons.append("card_not_provided")
    if deceased:
        reasons.append("deceased")
    return tuple(reasons)


OUTCOMES_MAX: Final = 4096  # the shared parts make a few hundred combinations
# outcomes by the identity of their parts and what decides the reasons (see evaluate)
_OUTCOMES: Final[dict[tuple[object, ...], Outcome]] = {}


def evaluate(claim: Claim, record: CitizenRecord | None, today: dt.date) -> Outcome:
    """Compare ``claim`` with ``record`` (None: no such person) as of ``today``.

    The verdict is ``match`` iff there is no reason against it; reasons come in a
    stable order: full_name, booking_name, date_of_birth, gender, the card's
    (``card_not_provided`` when the claim requires a card and gives none), deceased.

    This runs for every item of every batch, so the outcome is shared: every field result
    and card check is one of a few shared frozen values, and the outcome (reasons and
    verdict too) depends only on them and on three flags, so it is found by the identity
    of its parts and those flags, and built (reasons and all) only the first time. An
    outcome kept there keeps its parts alive, so no other object can take their ids; a
    part that is not a shared value (none is today) would only miss.
    """
    if record is None:
        return NOT_FOUND
    register_name = record.full_name
    full_name = match_name(claim.full_name, register_name) if claim.full_name else NOT_PROVIDED
    booking = match_name(claim.booking_name, register_name) if claim.booking_name else None
    birth = match_date(claim.birth, record.birth) if claim.birth else NOT_PROVIDED
    gender = NOT_PROVIDED if claim.gender is None else _GENDER[claim.gender is record.gender]
    card = check_card(record.cards, claim.card_issue_date, today)
    card_missing = claim.require_card and claim.card_issue_date is None
    deceased = record.status is LifeStatus.DECEASED
    key = (
        id(full_name), id(booking), id(birth), id(gender), id(card),
        claim.accept_partial, card_missing, deceased,
    )  # fmt: skip
    known = _OUTCOMES.get(key)
    if known is not None:
        return known
    reasons = _reasons((full_name, booking, birth, gender), card, claim, deceased)
    verdict = Verdict.NO_MATCH if reasons else Verdict.MATCH
    made = _outcome(verdict, full_name, birth, gender, card, booking, reasons)
    if len(_OUTCOMES) < OUTCOMES_MAX:
        _OUTCOMES[key] = made
    return made


@functools.lru_cache(maxsize=1024)
def _field_wire(result: FieldResult | None) -> dict[str, object]:
    """The wire form of a field result. Results repeat (they are small frozen values), so
    the dicts are memoised: they are shared and must be treated as read-only."""
    out: dict[str, object] = {"result": (result or NOT_PROVIDED).result.value}
    if result is not None and result.rule is not None:
        out["rule"] = result.rule.value
    return out


def _card_wire(card: CardCheck | None) -> dict[str, object]:
    return {"result": (card or CardCheck(CardResult.NOT_PROVIDED)).result.value}


class _ByIdentity:
    """Wire forms of the shared result values, found by identity: hashing a frozen dataclass
    of enums runs three Python-level ``__hash__`` calls, ``id()`` none. Each entry keeps its
    value alive, so no other object can take its id; at most ``limit`` entries (the shared
    values, which come first, number a few dozen)."""

    def __init__(self, wire: Callable[[Any], dict[str, object]], limit: int = 256) -> None:
        self._wire = wire
        self._limit = limit
        self._known: dict[int, tuple[object, dict[str, object]]] = {}

    def __call__(self, value: object) -> dict[str, object]:
        known = self._known.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        wire = self._wire(value)
        if len(self._known) < self._limit:
            self._known[id(value)] = (value, wire)
        return wire


_field_json = _ByIdentity(_field_wire)
_card_json = _ByIdentity(_card_wire)


def _outcome_wire(outcome: Outcome) -> dict[str, object]:
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


class _ByParts:
    """Wire forms of outcomes, found by the identity of their parts (``evaluate`` builds a
    new Outcome per claim from shared field results and card checks) and their reasons:
    a tuple of ids, no Python-level ``__hash__`` of dataclasses and enums. The first
    outcome of each key is kept with its wire form, so its parts stay alive and no other
    object can take their ids; an outcome of parts that are not shared only misses.
    At most ``limit`` entries (the shared parts make a few hundred combinations)."""

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._known: dict[tuple[object, ...], tuple[Outcome, dict[str, object]]] = {}

    def __call__(self, o: Outcome) -> dict[str, object]:
        key = (
            id(o.verdict), id(o.full_name), id(o.date_of_birth), id(o.gender), id(o.card),
            id(o.booking_name), o.reasons,
        )  # fmt: skip
        known = self._known.get(key)
        if known is not None:
            return known[1]
        wire = _outcome_wire(o)
        if len(self._known) < self._limit:
            self._known[key] = (o, wire)
        return wire


# evaluate's outcomes are shared values: most are found by their own identity, the others
# (an outcome evaluate did not keep) by their parts'
_outcome_json = _ByIdentity(_ByParts(), limit=OUTCOMES_MAX + 1)


def outcome_to_json(outcome: Outcome) -> dict[str, object]:
    """The response body of DESIGN.md's /v1/verify, less ``request_id`` and ``reference``.

    ``fields`` is empty when the verdict is ``not_found``; ``rule`` is left out when
    unset (a gender has none); ``booking_name`` is there only when the claim gave one.
    No number derived from the register is ever part of it. A new dict each call (the
    caller may add keys), whose values are shared: ``fields`` and ``reasons`` are
    read-only.
    """
    return _outcome_json(outcome).copy()
