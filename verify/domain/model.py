"""Plain data of the domain: register records, claims and verification outcomes.

Everything here is frozen and free of I/O. Enums are ``str`` enums so that
their values are the wire values of the API contract (DESIGN.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


class Precision(StrEnum):
    """How much of a date is known."""

    DAY = "day"
    YEAR = "year"


class LifeStatus(StrEnum):
    LIVING = "living"
    DECEASED = "deceased"


class CardState(StrEnum):
    """A card's status as the register stores it."""

    ACTIVE = "active"
    LOST = "lost"
    REVOKED = "revoked"


class FieldOutcome(StrEnum):
    MATCH = "match"
    PARTIAL = "partial"
    NO_MATCH = "no_match"
    NOT_PROVIDED = "not_provided"


class Rule(StrEnum):
    EXACT = "exact"
    ASCII_FOLDED = "ascii_folded"
    AIRLINE = "airline"
    MARKS_DIFFER = "marks_differ"
    REORDERED = "reordered"
    FUZZY = "fuzzy"
    YEAR_ONLY = "year_only"
    DAY_MONTH_SWAPPED = "day_month_swapped"


class CardResult(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    UNKNOWN_CARD = "unknown_card"
    NOT_PROVIDED = "not_provided"


class Verdict(StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date known to the day, or only its year (then ``value`` is 1 January)."""

    value: dt.date
    precision: Precision = Precision.DAY

    @property
    def year(self) -> int:
        return self.value.year


@dataclass(frozen=True, slots=True)
class Card:
    issue_date: dt.date
    expiry_date: dt.date | None  # None: never expires
    state: CardState


@dataclass(frozen=True, slots=True)
class CitizenRecord:
    """Exactly what verification needs of a register entry (and what the cache holds).

    ``id_number`` is the 12-digit personal ID as a string; ``cards`` are ordered
    by issue date, oldest first (the last one is the current card).
    """

    id_number: str
    full_name: str
    birth: PartialDate
    gender: Gender
    status: LifeStatus
    cards: tuple[Card, ...]
    version: int


@dataclass(frozen=True, slots=True)
class Claim:
    """What a relying party asserts about a person; every field but the ID is optional.

    ``id_number`` is 12 digits (personal ID) or 9 digits (former CMND), already
    validated by :mod:`verify.domain.claims` or :mod:`verify.domain.qr`.
    """

    id_number: str
    full_name: str | None = None
    birth: PartialDate | None = None
    gender: Gender | None = None
    card_issue_date: dt.date | None = None
    purpose: str | None = None
    reference: str | None = None
    accept_partial: bool = False
    booking_name: str | None = None  # e.g. an airline booking's NGUYEN/VAN AN MR
    require_card: bool = False
    terminal: str | None = None  # the counter or kiosk that made the check (audit only)

    def checks_something(self) -> bool:
        """Whether the claim gives anything to compare (an ID alone checks nothing)."""
        return (
            self.full_name is not None
            or self.birth is not None
            or self.gender is not None
            or self.card_issue_date is not None
            or self.booking_name is not None
        )


@dataclass(frozen=True, slots=True)
class FieldResult:
    result: FieldOutcome
    rule: Rule | None = None


@dataclass(frozen=True, slots=True)
class CardCheck:
    result: CardResult


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to one claim. ``fields`` is empty when the verdict is ``not_found``."""

    verdict: Verdict
    full_name: FieldResult | None = None
    date_of_birth: FieldResult | None = None
    gender: FieldResult | None = None
    card: CardCheck | None = None
    booking_name: FieldResult | None = None  # None: the claim gave no booking name
    reasons: tuple[str, ...] = field(default_factory=tuple)
