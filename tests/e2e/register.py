"""Writes hand-made register entries (tests/cases.py) into a test database."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import asyncpg

from verify.adapters.seed import CARD_COLUMNS, CITIZEN_COLUMNS
from verify.domain.model import CitizenRecord, Gender, LifeStatus, Precision


class Entry(Protocol):
    @property
    def record(self) -> CitizenRecord: ...
    @property
    def former_ids(self) -> tuple[str, ...]: ...
    @property
    def province_code(self) -> str: ...
    @property
    def address(self) -> str: ...


def _citizen_row(e: Entry) -> tuple[object, ...]:
    r = e.record
    return (
        int(r.id_number),
        r.full_name,
        r.birth.value,
        r.birth.precision is Precision.YEAR,
        b"M" if r.gender is Gender.MALE else b"F",
        r.status is LifeStatus.DECEASED,
        int(e.province_code),
        e.address,
    )


async def insert_entries(conn: asyncpg.Connection, entries: Iterable[Entry]) -> None:
    entries = list(entries)
    await conn.copy_records_to_table(
        "citizens",
        records=[_citizen_row(e) for e in entries],
        columns=CITIZEN_COLUMNS,
    )
    cards = [
        (int(e.record.id_number), c.issue_date, c.expiry_date, c.state.value)
        for e in entries
        for c in e.record.cards
    ]
    await conn.copy_records_to_table("id_cards", records=cards, columns=CARD_COLUMNS)
    former = [(int(f), int(e.record.id_number)) for e in entries for f in e.former_ids]
    await conn.copy_records_to_table(
        "former_ids", records=former, columns=["former_id", "id_number"]
    )
