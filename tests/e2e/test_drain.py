"""SIGTERM under load: readiness fails first, the API keeps answering through the drain,
no request is refused or failed before the drain ends, and the process exits cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import orjson

from tests.cases import CASES
from tests.e2e.conftest import make_key
from tests.e2e.serverproc import ServerProcess, running_server
from tests.support.wait import eventually
from verify.service.auth import SCOPES
from verify.settings import Settings

DRAIN_S = 3.0
CLIENTS = 8


@dataclass
class Tally:
    ok: int = 0
    bad_status: list[int] = field(default_factory=list)
    conn_errors: list[float] = field(default_factory=list)  # monotonic time of each failure


async def _client(session: aiohttp.ClientSession, url: str, token: str, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    n = 0
    while True:
        body = CASES[n % len(CASES)].body
        n += 1
        try:
            async with session.post(f"{url}/v1/verify", json=body, headers=headers) as response:
                await response.read()
                if response.status == 200:
                    tally.ok += 1
                else:
                    tally.bad_status.append(response.status)
        except (aiohttp.ClientError, TimeoutError):
            tally.conn_errors.append(time.monotonic())
            return  # the server stopped listening


async def _status(session: aiohttp.ClientSession, server: ServerProcess, path: str) -> int:
    headers = {"Authorization": "Bearer x"} if path.startswith("/v1/") else {}
    base = server.url if path.startswith("/v1/") else server.ops_url  # /readyz: the ops port
    async with session.get(base + path, headers=headers) as response:
        return response.status


async def test_sigterm_drains_without_failing_an_accepted_request(
    settings: Settings, loaded_db: str
) -> None:
    token = await make_key(loaded_db, SCOPES)
    tally = Tally()
    extra = {"VERIFY_DRAIN_SECONDS": str(DRAIN_S)}
    async with (
        running_server(settings, extra_env=extra) as server,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
    ):
        clients = [
            asyncio.create_task(_client(session, server.url, token, tally)) for _ in range(CLIENTS)
        ]
        await eventually(lambda: _true(tally.ok >= 100), within=30, what="load under way")
        os.kill(server.proc.pid, signal.SIGTERM)
        signalled = time.monotonic()

        async def not_ready() -> bool:
            return await _status(session, server, "/readyz") == 503

        await eventually(not_ready, within=2, what="/readyz 503 after SIGTERM")
        answered_before = tally.ok
        await eventually(
            lambda: _true(tally.ok > answered_before + 50), within=DRAIN_S, what="still serving"
        )
        assert time.monotonic() - signalled < DRAIN_S  # all of this inside the drain window
        await asyncio.wait_for(asyncio.gather(*clients), timeout=DRAIN_S + 15)
        code = await asyncio.wait_for(server.proc.wait(), timeout=15)
    assert code == 0
    assert tally.bad_status == []
    early = [t - signalled for t in tally.conn_errors if t - signalled < DRAIN_S]
    assert early == [], f"requests refused during the drain window: {early}"


async def _true(value: bool) -> bool:
    return value


async def test_a_stream_ends_at_a_line_boundary_on_sigterm(
    settings: Settings, loaded_db: str
) -> None:
    token = await make_key(loaded_db, SCOPES)
    lines = [orjson.dumps(CASES[n % len(CASES)].body) + b"\n" for n in range(10)]
    first_answers = asyncio.Event()
    signalled = asyncio.Event()

    async def upload() -> AsyncIterator[bytes]:
        for line in lines[:5]:
            yield line
        await first_answers.wait()  # the first lines are answered: now stop the server
        await signalled.wait()
        for line in lines[5:]:
            yield line
        await asyncio.Event().wait()  # keep the upload open: the server must end it

    extra = {"VERIFY_DRAIN_SECONDS": "30"}  # the stream must end long before the drain
    async with (
        running_server(settings, extra_env=extra) as server,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
    ):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
        async with session.post(
            f"{server.url}/v1/verify/stream", data=upload(), headers=headers
        ) as response:
            assert response.status == 200
            answered: list[dict[str, object]] = []
            async for raw in response.content:
                answered.append(orjson.loads(raw))
                if len(answered) == 5:
                    first_answers.set()
                    os.kill(server.proc.pid, signal.SIGTERM)
                    signalled.set()
        os.kill(server.proc.pid, signal.SIGTERM)  # the second signal ends the drain
        assert await asyncio.wait_for(server.proc.wait(), timeout=20) == 0
    last = answered[-1]
    assert last["code"] == "shutting_down", last
    assert all("verdict" in a for a in answered[:-1])
    assert last["line"] == len(answered)  # the first line not answered: resend from there
