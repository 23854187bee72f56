"""A real claim from the register for the README's curl example (`make run`)."""

from __future__ import annotations

import asyncpg
import orjson

from verify.adapters.pg import format_id12

_SQL = """
SELECT c.id_number, c.full_name, c.birth_date, c.gender, k.issue_date
FROM citizens c
JOIN LATERAL (SELECT issue_date, expiry_date, status FROM id_cards
              WHERE id_cards.id_number = c.id_number
              ORDER BY issue_date DESC LIMIT 1) k ON true
WHERE NOT c.deceased AND NOT c.birth_year_only AND k.status = 'active'
  AND c.birth_date BETWEEN current_date - 60 * 365 AND current_date - 20 * 365
  AND (k.expiry_date IS NULL OR k.expiry_date > current_date)
ORDER BY c.id_number LIMIT 1
"""


async def demo_request(conn: asyncpg.Connection) -> str | None:
    row = await conn.fetchrow(_SQL)
    if row is None:
        return None
    body = {
        "id_number": format_id12(row["id_number"]),
        "full_name": row["full_name"],
        "date_of_birth": row["birth_date"].isoformat(),
        "gender": "male" if row["gender"] == b"M" else "female",
        "card_issue_date": row["issue_date"].isoformat(),
        "purpose": "demo",
    }
    return orjson.dumps(body).decode()
