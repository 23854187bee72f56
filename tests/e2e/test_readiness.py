"""/readyz on the operations port: from the background check, 503 while Postgres does not answer.

Postgres is reached through a TCP proxy that stalls it (a hung server: nothing is
closed, nothing answers); probes keep answering at once from the cached result.
"""

from __future__ import annotations

import dataclasses
import time
import urllib.parse
from collections.abc import AsyncIterator

import pytest

from tests.cases import TODAY
from tests.e2e.conftest import AiohttpClient, Client
from tests.support.tcpproxy import TcpProxy
from tests.support.wait import eventually
from verify.bootstrap import create_app
from verify.http.appkeys import READINESS
from verify.http.ops import create_ops_app
from verify.settings import Settings

PROBES = 200


@pytest.fixture
async def pg_proxy(loaded_db: str) -> AsyncIterator[TcpProxy]:
    parts = urllib.parse.urlsplit(loaded_db)
    proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    yield proxy
    await proxy.aclose()


def _through(url: str, port: int) -> str:
    parts = urllib.parse.urlsplit(url)
    netloc = f"{parts.username}@127.0.0.1:{port}" if parts.username else f"127.0.0.1:{port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
async def apps(
    settings: Settings, pg_proxy: TcpProxy, aiohttp_client: AiohttpClient
) -> tuple[Client, Client]:
    url = _through(settings.database_url, pg_proxy.port)
    proxied = dataclasses.replace(settings, database_url=url)
    api = await aiohttp_client(create_app(proxied, today=lambda: TODAY))
    ops = await aiohttp_client(create_ops_app(api.app))
    return api, ops


async def _status(ops: Client) -> int:
    return (await ops.get("/readyz")).status


async def test_readyz_is_503_while_postgres_hangs_and_recovers(
    apps: tuple[Client, Client], pg_proxy: TcpProxy
) -> None:
    api, ops = apps
    assert await _status(ops) == 200
    pg_proxy.stall()
    pg_proxy.cut()  # the pool's connections die; new ones hang in the handshake

    async def not_ready() -> bool:
        return await _status(ops) == 503

    await eventually(not_ready, within=10, what="/readyz 503")
    body = await (await ops.get("/readyz")).json()
    assert body["status"] == "not_ready" and body["checks"]["postgres"]["ok"] is False
    metrics = await (await ops.get("/metrics")).text()
    assert "verify_db_up 0.0" in metrics
    assert (await api.get("/healthz")).status == 200  # alive: not restarted, just not ready
    pg_proxy.resume()

    async def ready() -> bool:
        return await _status(ops) == 200

    await eventually(ready, within=10, what="/readyz 200 again")


async def test_probes_take_no_connection(apps: tuple[Client, Client]) -> None:
    """Probes read the cached result: checks run once a second however many probes come."""
    api, ops = apps
    readiness = api.app[READINESS]
    rounds, started = readiness.rounds, time.monotonic()
    statuses = [await _status(ops) for _ in range(PROBES)]
    elapsed = time.monotonic() - started
    assert statuses == [200] * PROBES
    assert readiness.rounds - rounds <= elapsed / 1.0 + 2, (readiness.rounds - rounds, elapsed)
