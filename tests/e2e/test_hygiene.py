"""Limits that keep one client from holding the server: rate limit before the body is read,
requests in progress per key, a stream's total duration and a deadline on every write."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from tests.cases import CASES, TODAY
from tests.e2e.conftest import AiohttpClient, Client, make_key
from tests.e2e.test_rate_limits import _limited_key
from verify.bootstrap import create_app
from verify.http.stream import Out, StalledReader
from verify.service.auth import SCOPES
from verify.settings import Settings

LINE = orjson.dumps(CASES[0].body) + b"\n"


async def _raw_post(port: int, path: str, token: str, head: bytes, length: int) -> bytes:
    """Send the headers and only ``head`` of a ``length``-byte body; return the status line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n".encode()
            + head
        )
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()


async def test_a_key_over_its_rate_is_refused_before_its_body_is_read(
    client: Client, loaded_db: str
) -> None:
    _, token = await _limited_key(loaded_db, rate=1, burst=1)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/v1/verify", json=CASES[0].body, headers=headers)).status == 200
    port = client.server.port
    assert port is not None
    # the body never arrives in full: a handler that read it first would time out (503)
    for path in ("/v1/verify", "/v1/verify/batch"):
        status = await _raw_post(port, path, token, b'{"items": [', 100_000)
        assert status.startswith(b"HTTP/1.1 429"), (path, status)


async def test_a_batch_is_charged_its_size_before_reading(client: Client, loaded_db: str) -> None:
    _, token = await _limited_key(loaded_db, rate=1, burst=50)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/v1/verify", json=CASES[0].body, headers=headers)).status == 200
    port = client.server.port
    assert port is not None
    # a 200 kB body holds at least 195 items: more than the 49 left (a batch above the
    # burst passes only from a full bucket), refused unread
    status = await _raw_post(port, "/v1/verify/batch", token, b'{"items": [', 200_000)
    assert status.startswith(b"HTTP/1.1 429"), status


async def _held_stream(
    client: Client, token: str, release: asyncio.Event
) -> aiohttp.ClientResponse:
    async def upload() -> AsyncIterator[bytes]:
        yield LINE
        await release.wait()

    response = await client.post(
        "/v1/verify/stream", data=upload(), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 200
    assert b'"verdict"' in await response.content.readline()  # in progress, holding its slot
    return response


async def test_requests_in_progress_are_capped_per_key(
    settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient
) -> None:
    capped = dataclasses.replace(settings, max_concurrent_per_key=2)
    client = await aiohttp_client(create_app(capped, today=lambda: TODAY))
    token = await make_key(loaded_db, SCOPES)
    release = asyncio.Event()
    held = [await _held_stream(client, token, release) for _ in range(2)]
    third = await client.post(
        "/v1/verify", json=CASES[0].body, headers={"Authorization": f"Bearer {token}"}
    )
    assert third.status == 429 and third.headers["Retry-After"] == "1"
    assert (await third.json(content_type=None))["code"] == "rate_limited"
    other = await make_key(loaded_db, SCOPES, agency="other")
    other_headers = {"Authorization": f"Bearer {other}"}
    other_response = await client.post("/v1/verify", json=CASES[0].body, headers=other_headers)
    assert other_response.status == 200
    release.set()
    for response in held:
        await response.read()
    # the slots are free again
    again = await client.post(
        "/v1/verify", json=CASES[0].body, headers={"Authorization": f"Bearer {token}"}
    )
    assert again.status == 200


async def test_a_stream_ends_at_its_duration_cap_with_a_problem_line(
    settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient
) -> None:
    short = dataclasses.replace(settings, stream_max_s=1.0)
    client = await aiohttp_client(create_app(short, today=lambda: TODAY))
    token = await make_key(loaded_db, SCOPES)
    never = asyncio.Event()

    async def upload() -> AsyncIterator[bytes]:
        yield LINE + LINE
        await never.wait()  # a client that keeps the stream open without sending more

    response = await client.post(
        "/v1/verify/stream", data=upload(), headers={"Authorization": f"Bearer {token}"}
    )
    lines = [orjson.loads(line) for line in (await response.read()).splitlines()]
    never.set()
    assert [("verdict" in line) for line in lines] == [True, True, False]
    assert lines[2]["code"] == "timeout" and lines[2]["line"] == 3
    assert "1s limit" in str(lines[2]["detail"])


class _StalledResponse:
    """A response whose reader never reads: a write never completes."""

    async def write(self, data: bytes) -> None:
        await asyncio.Event().wait()


async def test_a_write_to_a_stalled_reader_has_a_deadline() -> None:
    out = Out(_StalledResponse(), write_timeout_s=0.05)  # type: ignore[arg-type]
    with pytest.raises(StalledReader):
        await out.write([{"line": 1}])
