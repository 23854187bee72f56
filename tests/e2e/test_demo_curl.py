"""The claim `make run` prints for its curl example is answered `match` on a fresh seed."""

from __future__ import annotations

import datetime as dt

import asyncpg
import orjson

from tests.e2e.conftest import AiohttpClient, make_key
from verify.adapters.demo import demo_request
from verify.adapters.seed import seed_register
from verify.bootstrap import create_app
from verify.service.auth import SCOPES
from verify.settings import Settings


async def test_demo_request_matches(
    settings: Settings, db_url: str, aiohttp_client: AiohttpClient
) -> None:
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        await seed_register(conn, count=2000, seed=1, today=dt.date.today(), progress=False)
        body = await demo_request(conn)
    finally:
        await conn.close()
    assert body is not None
    token = await make_key(db_url, SCOPES)
    client = await aiohttp_client(create_app(settings))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    response = await client.post("/v1/verify", data=body, headers=headers)
    answer = await response.json()
    assert answer["verdict"] == "match", answer
    assert orjson.loads(body)["gender"] in ("male", "female")
