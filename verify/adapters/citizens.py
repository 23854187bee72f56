"""Reads for attribute lookups and the access history (not on the verify hot path)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from verify.adapters.pg import RECORDS_SQL, connection, record_from_row
from verify.domain.disclosure import CitizenProfile
from verify.domain.id_number import FORMER_ID_LENGTH
from verify.service.ports import HistoryRow

_RESIDENCE_SQL = "SELECT province_code, address FROM citizens WHERE id_number = $1"
_FORMER_SQL = "SELECT id_number FROM former_ids WHERE former_id = $1"

_HISTORY_SQL = """
SELECT l.seq, l.at, a.name AS agency, l.kind, l.purpose, l.verdict, l.fields
FROM audit_log l JOIN agencies a ON a.id = l.agency_id
WHERE l.subject = $1 AND l.at >= $2 AND (l.at, l.seq) < ($3, $4)
ORDER BY l.at DESC, l.seq DESC
LIMIT $5
"""


class PgCitizens:
    def __init__(self, pool: asyncpg.Pool, *, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout

    async def current_id(self, id_number: str) -> str | None:
        """The 12-digit ID for a 12-digit or former 9-digit number, None when unknown."""
        if len(id_number) != FORMER_ID_LENGTH:
            return id_number
        async with connection(self._pool, self._timeout) as conn:
            found = await conn.fetchval(_FORMER_SQL, int(id_number))
        return None if found is None else f"{found:012d}"

    async def profile(self, id12: str) -> CitizenProfile | None:
        async with connection(self._pool, self._timeout) as conn:
            rows = await conn.fetch(RECORDS_SQL, [int(id12)])
            residence = await conn.fetchrow(_RESIDENCE_SQL, int(id12))
        if not rows or residence is None:
            return None
        return CitizenProfile(
            record=record_from_row(rows[0]),
            province_code=f"{residence['province_code']:03d}",
            address=residence["address"],
        )

    async def history(
        self, subject: bytes, since: dt.datetime, before: tuple[dt.datetime, int], limit: int
    ) -> list[HistoryRow]:
        async with connection(self._pool, self._timeout) as conn:
            rows = await conn.fetch(_HISTORY_SQL, subject, since, before[0], before[1], limit)
        return [
            HistoryRow(
                r["seq"],
                r["at"],
                r["agency"],
                r["kind"],
                r["purpose"],
                r["verdict"],
                tuple(r["fields"]) if r["fields"] is not None else None,
            )
            for r in rows
        ]
