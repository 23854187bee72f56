"""The app over HTTP on real Postgres and Redis, with the hand-made register loaded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.cases import REGISTER, TODAY
from tests.e2e.register import insert_entries
from verify.adapters.api_keys import create_key
from verify.bootstrap import create_app
from verify.service.auth import SCOPES, mint_key
from verify.settings import Settings

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
AiohttpServerClient = Callable[[TestServer], Awaitable[TestClient[web.Request, web.Application]]]
Client = TestClient[web.Request, web.Application]


async def make_key(db_url: str, scopes: frozenset[str], agency: str = "test-agency") -> str:
    key = mint_key()
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        await create_key(conn, key, agency=agency, scopes=scopes, rate_per_s=None, burst=None)
    finally:
        await conn.close()
    return key.token


@pytest.fixture
async def loaded_db(db_url: str) -> str:
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        await insert_entries(conn, REGISTER)
    finally:
        await conn.close()
    return db_url


@pytest.fixture
async def token(loaded_db: str) -> str:
    return await make_key(loaded_db, SCOPES)


@pytest.fixture
async def client(settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient) -> Client:
    # aiohttp_client last: it is torn down (the app closed) before the database is dropped
    app = create_app(settings, today=lambda: TODAY)
    return await aiohttp_client(app)


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
