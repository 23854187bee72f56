"""Outages under load: Postgres killed and restarted on its address, Postgres made slow,
and the embedded servers coming back on their old ports after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from tests.cases import CASES, REGISTER, TODAY
from tests.e2e.conftest import AiohttpClient, Client, make_key
from tests.e2e.register import insert_entries
from tests.support.tcpproxy import TcpProxy
from tests.support.wait import eventually
from verify import devservers
from verify.adapters.migrate import migrate
from verify.bootstrap import create_app
from verify.service.auth import SCOPES
from verify.settings import Settings

CLIENTS = 8


def _postmaster_pid(pg: devservers.Postgres) -> int:
    return int((pg.data_dir / "postmaster.pid").read_text().splitlines()[0])


def _crash(pg: devservers.Postgres) -> None:
    """SIGKILL the postmaster and every backend: what an OOM kill or a node loss does."""
    pid = _postmaster_pid(pg)
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for victim in [pid, *map(int, children)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


@pytest.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[tuple[Path, devservers.Postgres]]:
    """A PostgreSQL of this test alone: the test kills it."""
    pg = devservers.start_postgres(tmp_path)
    try:
        yield tmp_path, pg
    finally:
        devservers.stop_postgres(tmp_path)


async def _prepare(url: str) -> str:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await migrate(conn)
        await insert_entries(conn, REGISTER)
    finally:
        await conn.close()
    return await make_key(url, SCOPES)


async def _load(client: Client, token: str, stop: asyncio.Event, seen: Counter[str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    n = 0
    while not stop.is_set():
        n += 1
        started = time.monotonic()
        response = await client.post("/v1/verify", json=CASES[n % 10].body, headers=headers)
        body = await response.json()
        took = time.monotonic() - started
        outcome = f"{response.status}:{body.get('code', '')}"
        seen[outcome] += 1
        slowest = f"slowest_ms {outcome}"
        seen[slowest] = max(seen[slowest], int(took * 1000))


async def test_postgres_crash_and_restart_under_load(
    own_postgres: tuple[Path, devservers.Postgres],
    settings: Settings,
    aiohttp_client: AiohttpClient,
) -> None:
    folder, pg = own_postgres
    admin = await asyncpg.connect(pg.url, timeout=10)
    await admin.execute("CREATE DATABASE outage")
    await admin.close()
    url = pg.url_for("outage")
    token = await _prepare(url)
    app_settings = dataclasses.replace(settings, database_url=url, db_timeout_s=1.0)
    client = await aiohttp_client(create_app(app_settings, today=lambda: TODAY))
    stop, seen = asyncio.Event(), Counter[str]()
    load = [asyncio.create_task(_load(client, token, stop, seen)) for _ in range(CLIENTS)]
    try:
        await eventually(_at_least(seen, "200:", 50), within=30, what="load under way")
        _crash(pg)
        await eventually(_at_least(seen, "503:database_unavailable", 20), within=10, what="503s")
        restarted = devservers.start_postgres(folder)
        assert restarted.port == pg.port  # the same address: running processes find it
        ok_before = seen["200:"]
        recovered = await eventually(_at_least(seen, "200:", ok_before + 50), within=5, what="200")
    finally:
        stop.set()
        await asyncio.gather(*load)
    outcomes = {k for k in seen if not k.startswith("slowest_ms")}
    assert outcomes == {"200:", "503:database_unavailable"}, seen
    # while Postgres was down, each refusal came within its timeouts, none hung
    assert seen["slowest_ms 503:database_unavailable"] <= app_settings.request_timeout_s * 1000
    print(f"recovered {recovered:.2f}s after the restart; {dict(seen)}")


def _at_least(seen: Counter[str], key: str, n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return seen[key] >= n

    return check


async def test_slow_postgres_is_bounded_by_the_timeouts_without_pile_up(
    settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient
) -> None:
    token = await make_key(loaded_db, SCOPES)
    host_port = loaded_db.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    proxy = await TcpProxy(host, int(port)).start()
    via_proxy = loaded_db.replace(host_port, f"127.0.0.1:{proxy.port}")
    app_settings = dataclasses.replace(
        settings, database_url=via_proxy, db_timeout_s=0.5, cache_enabled=False
    )
    client = await aiohttp_client(create_app(app_settings, today=lambda: TODAY))
    stop, seen = asyncio.Event(), Counter[str]()
    load = [asyncio.create_task(_load(client, token, stop, seen)) for _ in range(CLIENTS)]
    try:
        await eventually(_at_least(seen, "200:", 30), within=30, what="load under way")
        proxy.slow(1.0)  # every round trip now takes over 2 s: past every database timeout
        await eventually(_at_least(seen, "503:database_unavailable", 20), within=15, what="503")
        proxy.slow(0)
        ok_before = seen["200:"]
        await eventually(_at_least(seen, "200:", ok_before + 50), within=15, what="recovery")
    finally:
        stop.set()
        await asyncio.gather(*load)
        await proxy.aclose()
    # each request was cut off by its timeouts: none waited behind the others
    slowest = max(v for k, v in seen.items() if k.startswith("slowest_ms"))
    assert slowest <= app_settings.request_timeout_s * 1000 + 500, seen
    outcomes = {k for k in seen if not k.startswith("slowest_ms")}
    assert outcomes <= {"200:", "503:database_unavailable", "503:timeout"}, seen


async def test_crashed_dev_servers_come_back_on_their_ports(tmp_path: Path) -> None:
    pg = devservers.start_postgres(tmp_path)
    redis = devservers.start_redis(tmp_path)
    try:
        _crash(pg)
        redis.stop()  # SIGKILL
        await eventually(_closed(pg.port), within=10, what="PostgreSQL gone")
        assert devservers.start_postgres(tmp_path).port == pg.port
        assert devservers.start_redis(tmp_path).port == redis.port
    finally:
        devservers.stop_redis(tmp_path)
        devservers.stop_postgres(tmp_path)


def _closed(port: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not devservers.port_open(port)

    return check
