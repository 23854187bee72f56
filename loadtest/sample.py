"""A sample of real register entries for the load test, fetched once before locust starts.

The file it writes holds (synthetic) personal data: it lives in a temporary folder
and is removed after the run, never under loadtest/results/.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import asyncpg

# Living people whose latest card is active: the claims a real counter sees.
_SQL = """
SELECT c.id_number, c.full_name, c.birth_date, c.birth_year_only, c.gender, c.address,
       k.issue_date
FROM citizens c
LEFT JOIN LATERAL (SELECT issue_date, status FROM id_cards
                   WHERE id_cards.id_number = c.id_number
                   ORDER BY issue_date DESC LIMIT 1) k ON true
WHERE NOT c.deceased
ORDER BY random()
LIMIT $1
"""


def _person(row: asyncpg.Record) -> dict[str, object]:
    issue: dt.date | None = row["issue_date"]
    return {
        "id_number": f"{row['id_number']:012d}",
        "full_name": row["full_name"],
        "birth": row["birth_date"].isoformat(),
        "year_only": row["birth_year_only"],
        "gender": "male" if row["gender"] == b"M" else "female",
        "address": row["address"],
        "card_issue": issue.isoformat() if issue is not None else None,
    }


async def fetch_sample(database_url: str, size: int) -> list[dict[str, object]]:
    conn = await asyncpg.connect(database_url, timeout=10, command_timeout=120)
    try:
        await conn.execute("SELECT setseed(0.42)")
        rows = await conn.fetch(_SQL, size)
    finally:
        await conn.close(timeout=10)
    return [_person(r) for r in rows]


def write_sample(people: list[dict[str, object]], path: Path) -> None:
    path.write_text(json.dumps(people, ensure_ascii=False))
