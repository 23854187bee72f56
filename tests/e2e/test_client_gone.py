"""Clients that hang up mid-request are counted as cancelled, never as server errors."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from tests.cases import CASES
from tests.e2e.conftest import Client
from verify.http.appkeys import METRICS

HANGUPS = 40


def _request(token: str, body: bytes, host: str, port: int) -> bytes:
    head = (
        f"POST /v1/verify HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _send_and_hang_up(host: str, port: int, raw: bytes) -> None:
    _, writer = await asyncio.open_connection(host, port)
    writer.write(raw)
    await writer.drain()
    writer.transport.abort()  # RST: gone before the answer, as wrk's connections at its end


def _samples(client: Client, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in client.app[METRICS].registry.collect():
        for sample in family.samples:
            if sample.name == name:
                out[sample.labels.get("outcome", "")] = out.get(
                    sample.labels.get("outcome", ""), 0.0
                ) + float(sample.value)
    return out


async def test_hang_ups_count_as_cancelled_not_5xx(
    client: Client, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = client.server
    host, port = str(server.host), int(str(server.port))
    raw = _request(token, orjson.dumps(CASES[0].body), host, port)
    caplog.set_level(logging.INFO, logger="verify.access")
    for _ in range(HANGUPS):
        await _send_and_hang_up(host, port, raw)
    ok = await client.post("/v1/verify", json=CASES[0].body, headers=_auth(token))
    assert ok.status == 200

    async def settled() -> dict[str, float]:
        while True:  # every hung-up request has been handled and counted
            counts = _samples(client, "verify_http_requests_total")
            if sum(counts.values()) >= HANGUPS + 1:
                return counts
            await asyncio.sleep(0.01)

    counts = await asyncio.wait_for(settled(), timeout=10)
    assert counts.get("5xx", 0) == 0
    assert counts.get("cancelled", 0) >= 1, counts  # the hang-up path ran
    gone = sum(_samples(client, "verify_http_client_gone_requests_total").values())
    assert gone == counts.get("cancelled", 0)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
