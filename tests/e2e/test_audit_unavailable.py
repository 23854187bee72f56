"""Invariant 1's other half: when the audit cannot be written, no answer goes out (503)."""

from __future__ import annotations

import asyncpg

from tests.cases import CASES
from tests.e2e.conftest import Client


async def test_no_answer_without_its_audit_row(
    client: Client, auth: dict[str, str], loaded_db: str
) -> None:
    assert (await client.post("/v1/verify", json=CASES[0].body, headers=auth)).status == 200
    conn = await asyncpg.connect(loaded_db, timeout=10)
    try:
        await conn.execute("ALTER TABLE audit_log RENAME TO audit_log_away")
        response = await client.post("/v1/verify", json=CASES[0].body, headers=auth)
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        problem = await response.json(content_type=None)
        assert problem["code"] == "database_unavailable"
        assert "verdict" not in problem
        batch = {"items": [CASES[0].body, CASES[1].body]}
        assert (await client.post("/v1/verify/batch", json=batch, headers=auth)).status == 503
        await conn.execute("ALTER TABLE audit_log_away RENAME TO audit_log")
        response = await client.post("/v1/verify", json=CASES[0].body, headers=auth)
        assert response.status == 200  # recovers by itself
    finally:
        await conn.close()
