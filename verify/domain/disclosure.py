"""What an attribute lookup may disclose: field groups, the scope each needs, the answer's shape.

A lookup names the groups it wants (``fields=basic,residence,cards``; default:
every group the key's scopes allow). Asking for a group the key lacks is refused
as a whole; nothing outside the asked groups is ever returned.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from verify.domain.cards import check_card
from verify.domain.errors import ValidationError
from verify.domain.model import CitizenRecord, Precision
from verify.domain.provinces import PROVINCES


class Group(StrEnum):
    BASIC = "basic"
    RESIDENCE = "residence"
    CARDS = "cards"


SCOPE_OF: Final[dict[Group, str]] = {
    Group.BASIC: "lookup:basic",
    Group.RESIDENCE: "lookup:residence",
    Group.CARDS: "lookup:cards",
}

# The audit records which attributes left the register, by group.
FIELDS_OF: Final[dict[Group, tuple[str, ...]]] = {
    Group.BASIC: ("full_name", "date_of_birth", "gender"),  # DESIGN: lookup:basic, no more
    Group.RESIDENCE: ("province_code", "address"),
    Group.CARDS: ("cards",),
}


@dataclass(frozen=True, slots=True)
class CitizenProfile:
    record: CitizenRecord
    province_code: str
    address: str


def allowed_groups(scopes: frozenset[str]) -> tuple[Group, ...]:
    return tuple(g for g in Group if SCOPE_OF[g] in scopes)


def parse_groups(raw: str | None, scopes: frozenset[str]) -> tuple[tuple[Group, ...], list[str]]:
    """The groups asked for, and the scopes missing for them (empty when all are allowed)."""
    if raw is None or not raw.strip():
        allowed = allowed_groups(scopes)
        return allowed, [] if allowed else [SCOPE_OF[Group.BASIC]]
    wanted: list[Group] = []
    for part in (p.strip() for p in raw.split(",")):
        try:
            group = Group(part)
        except ValueError:
            raise ValidationError(
                "invalid_field", "fields is a comma-separated list of basic, residence, cards",
                "fields",
            ) from None  # fmt: skip
        if group not in wanted:
            wanted.append(group)
    missing = [SCOPE_OF[g] for g in wanted if SCOPE_OF[g] not in scopes]
    return tuple(wanted), missing


def disclosed_fields(groups: tuple[Group, ...]) -> tuple[str, ...]:
    return tuple(f for g in groups for f in FIELDS_OF[g])


def _basic(record: CitizenRecord) -> dict[str, object]:
    birth = record.birth
    shown = str(birth.year) if birth.precision is Precision.YEAR else birth.value.isoformat()
    return {
        "full_name": record.full_name,
        "date_of_birth": shown,
        "gender": record.gender.value,
    }


def _cards(record: CitizenRecord, today: dt.date) -> list[dict[str, object]]:
    return [
        {
            "issue_date": c.issue_date.isoformat(),
            "expiry_date": c.expiry_date.isoformat() if c.expiry_date else None,
            "status": check_card(record.cards, c.issue_date, today).result.value,
        }
        for c in reversed(record.cards)
    ]


def disclose(
    profile: CitizenProfile, groups: tuple[Group, ...], today: dt.date
) -> dict[str, object]:
    record = profile.record
    body: dict[str, object] = {"id_number": record.id_number}
    if Group.BASIC in groups:
        body["basic"] = _basic(record)
    if Group.RESIDENCE in groups:
        body["residence"] = {
            "province_code": profile.province_code,
            "province": PROVINCES.get(profile.province_code),
            "address": profile.address,
        }
    if Group.CARDS in groups:
        body["cards"] = _cards(record, today)
    return body
