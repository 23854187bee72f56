"""Invariant 1: SIGKILL the server under load; every answer a client received has its audit row."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import asyncpg

from tests.cases import CASES
from tests.e2e.conftest import make_key
from tests.e2e.serverproc import running_server
from verify.service.auth import SCOPES
from verify.settings import Settings

CLIENTS = 32
ENOUGH = 300  # answers received before the kill: load well under way


async def _client(
    session: aiohttp.ClientSession, url: str, token: str, answered: list[tuple[str, int]],
    enough: asyncio.Event,
) -> None:  # fmt: skip
    n = 0
    while True:
        case = CASES[n % len(CASES)]
        n += 1
        request_id = uuid.uuid4().hex
        batch = n % 5 == 0
        path, body = (
            ("/v1/verify/batch", {"items": [case.body] * 3}) if batch else ("/v1/verify", case.body)
        )
        headers = {"Authorization": f"Bearer {token}", "X-Request-Id": request_id}
        try:
            async with session.post(url + path, json=body, headers=headers) as response:
                await response.read()
                if response.status == 200:  # found by the id the answer carries
                    answered.append((response.headers["X-Request-Id"], 3 if batch else 1))
                    if len(answered) >= ENOUGH:
                        enough.set()
        except (aiohttp.ClientError, TimeoutError):
            return  # the server is gone


async def test_sigkill_under_load_loses_no_audit_row(settings: Settings, loaded_db: str) -> None:
    token = await make_key(loaded_db, SCOPES)
    answered: list[tuple[str, int]] = []
    enough = asyncio.Event()
    async with running_server(settings) as server:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            tasks = [
                asyncio.create_task(_client(session, server.url, token, answered, enough))
                for _ in range(CLIENTS)
            ]
            await asyncio.wait_for(enough.wait(), timeout=60)
            await server.kill()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    assert len(answered) >= ENOUGH
    conn = await asyncpg.connect(loaded_db, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT request_id, count(*) AS n FROM audit_log"
            " WHERE request_id = ANY($1::text[]) GROUP BY request_id",
            [r for r, _ in answered],
        )
    finally:
        await conn.close()
    found = {r["request_id"]: r["n"] for r in rows}
    missing = [(r, n) for r, n in answered if found.get(r) != n]
    assert not missing, f"{len(missing)} answered requests without their audit rows"
