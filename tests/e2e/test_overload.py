"""Admission over HTTP: a shed request is a fast 503 ``overloaded`` before anything is
read or checked; a batch waiting for its own lane's slot is not overload and waits."""

from __future__ import annotations

import asyncio
import dataclasses

from tests.cases import BATCH_ITEMS, CASES, TODAY
from tests.e2e.conftest import AiohttpClient, Client
from tests.support.wait import eventually
from verify.bootstrap import create_app
from verify.http.appkeys import ADMISSION
from verify.service.admission import Lane
from verify.settings import Settings

QUEUE_TIMEOUT_S = 0.02


async def _client(settings: Settings, aiohttp_client: AiohttpClient) -> Client:
    tight = dataclasses.replace(
        settings,
        max_concurrency=2,
        bulk_concurrency=1,
        queue_timeout_s=QUEUE_TIMEOUT_S,
        overload_queue_timeout_s=QUEUE_TIMEOUT_S,
    )
    return await aiohttp_client(create_app(tight, today=lambda: TODAY))


async def test_a_shed_request_is_503_overloaded_before_its_key_is_checked(
    settings: Settings, loaded_db: str, auth: dict[str, str], aiohttp_client: AiohttpClient
) -> None:
    client = await _client(settings, aiohttp_client)
    admission = client.app[ADMISSION]
    for _ in range(2):  # every slot held
        await admission.acquire(Lane.INTERACTIVE)
    shed = await client.post("/v1/verify", data=b"not even json")  # no key either
    assert shed.status == 503
    assert shed.headers["Retry-After"] == "1"
    assert shed.headers["Content-Type"].startswith("application/problem+json")
    assert shed.headers["X-Request-Id"]
    problem = await shed.json(content_type=None)
    assert problem["code"] == "overloaded"
    assert problem["status"] == 503
    for _ in range(2):
        admission.release(Lane.INTERACTIVE)
    ok = await client.post("/v1/verify", json=CASES[0].body, headers=auth)
    assert ok.status == 200


async def test_a_batch_waits_for_the_bulk_slot_past_the_interactive_timeout(
    settings: Settings, loaded_db: str, auth: dict[str, str], aiohttp_client: AiohttpClient
) -> None:
    client = await _client(settings, aiohttp_client)
    admission = client.app[ADMISSION]
    await admission.acquire(Lane.BULK)  # the one bulk slot, held by "another batch"
    body = {"items": [case.body for case in BATCH_ITEMS]}
    batch = asyncio.create_task(client.post("/v1/verify/batch", json=body, headers=auth))

    async def queued() -> bool:
        return admission.queued(Lane.BULK) == 1

    await eventually(queued, within=10, what="the batch queued for the bulk slot")
    await asyncio.sleep(10 * QUEUE_TIMEOUT_S)  # ten interactive timeouts: still waiting
    assert not batch.done()
    assert not admission.overloaded  # a full bulk lane is not overload
    single = await client.post("/v1/verify", json=CASES[0].body, headers=auth)
    assert single.status == 200  # interactive requests pass the waiting batch
    admission.release(Lane.BULK)
    answered = await batch
    assert answered.status == 200
