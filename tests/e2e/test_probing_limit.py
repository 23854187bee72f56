"""The per-person probing limit: verify attempts per agency and person over a rolling day."""

from __future__ import annotations

import dataclasses

import asyncpg
import orjson
import pytest

from tests.cases import REGISTER, TODAY
from tests.e2e.conftest import AiohttpClient, Client, make_key
from verify.bootstrap import create_app
from verify.devservers import free_port
from verify.settings import Settings

PERSON = REGISTER[0].record.id_number
OTHER = REGISTER[1].record.id_number
LIMIT = Settings.subject_attempts_per_day  # the default, 50


@pytest.fixture
async def client(settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient) -> Client:
    """The app with the default probing limit (the shared fixture lifts it)."""
    # the count must stay in Redis for the test (a busy machine can exceed the 50 ms
    # timeout, and the per-process fallback does not know Redis's count): a loose timeout
    limited = dataclasses.replace(settings, subject_attempts_per_day=LIMIT, redis_timeout_s=1.0)
    return await aiohttp_client(create_app(limited, today=lambda: TODAY))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _attempts(client: Client, token: str, id_number: str, n: int) -> list[int]:
    body = {"id_number": id_number, "full_name": "X", "date_of_birth": "1990-01-01"}
    return [
        (await client.post("/v1/verify", json=body, headers=_bearer(token))).status
        for _ in range(n)
    ]


async def test_sixty_attempts_on_one_person_end_in_429(
    client: Client, ops_client: Client, loaded_db: str, token: str
) -> None:
    statuses = await _attempts(client, token, PERSON, 60)
    assert statuses == [200] * LIMIT + [429] * 10
    body = {"id_number": PERSON, "gender": "male"}  # an ID alone is nothing_to_verify
    refused = await client.post("/v1/verify", json=body, headers=_bearer(token))
    problem = await refused.json(content_type=None)
    assert refused.status == 429 and problem["code"] == "too_many_attempts"
    assert "verdict" not in problem
    # one attempt back every 86400 / 50 s
    assert 1 <= int(refused.headers["Retry-After"]) <= 86_400 // LIMIT + 1
    # a different person, and the same person from another agency: unaffected
    assert await _attempts(client, token, OTHER, 1) == [200]
    other_agency = await make_key(loaded_db, frozenset({"verify"}), agency="other-agency")
    assert await _attempts(client, other_agency, PERSON, 1) == [200]
    text = await (await ops_client.get("/metrics")).text()
    assert "verify_attempts_refused_total{agency_id=" in text
    assert PERSON not in text
    # the refusals are audited: probing shows in the person's access history
    conn = await asyncpg.connect(loaded_db, timeout=10)
    try:
        refused_rows = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE verdict = 'too_many_attempts'"
        )
    finally:
        await conn.close()
    assert refused_rows == 11


async def test_batch_items_past_the_limit_get_their_problem(client: Client, token: str) -> None:
    assert set(await _attempts(client, token, PERSON, LIMIT - 2)) == {200}
    items = [{"id_number": PERSON, "gender": "male", "reference": f"r{i}"} for i in range(3)]
    items.append({"id_number": OTHER, "gender": "female"})
    response = await client.post("/v1/verify/batch", json={"items": items}, headers=_bearer(token))
    assert response.status == 200
    results = (await response.json())["results"]
    # three attempts on a person with two left: refused for that person as a whole
    for i in range(3):
        assert results[i]["code"] == "too_many_attempts" and results[i]["index"] == i
        assert results[i]["reference"] == f"r{i}" and results[i]["retry_after"] >= 1
        assert "verdict" not in results[i]
    assert "verdict" in results[3]


async def test_a_batch_over_a_whole_days_attempts_is_told_no_wait_helps(
    client: Client, token: str, pg_pool: asyncpg.Pool
) -> None:
    """51 items on one person, 50 a day: they can never pass together, so no retry_after
    (it said about half an hour, and the same batch was refused again after it)."""
    items = [{"id_number": PERSON, "gender": "male", "reference": f"r{i}"} for i in range(51)]
    items.append({"id_number": OTHER, "gender": "female"})
    response = await client.post("/v1/verify/batch", json={"items": items}, headers=_bearer(token))
    results = (await response.json())["results"]
    for i in range(51):
        assert results[i]["code"] == "attempts_exceed_quota" and results[i]["status"] == 422
        assert results[i]["index"] == i and results[i]["reference"] == f"r{i}"
        assert "retry_after" not in results[i] and "verdict" not in results[i]
    assert "verdict" in results[51]
    # nothing was charged: the person's whole day is still there
    assert set(await _attempts(client, token, PERSON, LIMIT)) == {200}
    refused = await pg_pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE verdict = 'too_many_attempts'"
    )
    assert refused == 51  # audited as refused attempts, so probing shows in the history


async def test_stream_lines_past_the_limit_get_their_problem(client: Client, token: str) -> None:
    assert set(await _attempts(client, token, PERSON, LIMIT)) == {200}
    lines = b"".join(
        orjson.dumps({"id_number": i, "gender": "male"}) + b"\n" for i in (OTHER, PERSON)
    )
    response = await client.post("/v1/verify/stream", data=lines, headers=_bearer(token))
    results = [orjson.loads(line) for line in (await response.read()).splitlines()]
    assert "verdict" in results[0]
    assert results[1]["code"] == "too_many_attempts" and results[1]["line"] == 2


async def test_the_limit_holds_without_redis(
    settings: Settings, loaded_db: str, token: str, aiohttp_client: AiohttpClient
) -> None:
    nowhere = dataclasses.replace(
        settings, redis_url=f"redis://127.0.0.1:{free_port()}/0", subject_attempts_per_day=3
    )
    client = await aiohttp_client(create_app(nowhere, today=lambda: TODAY))
    assert await _attempts(client, token, PERSON, 5) == [200, 200, 200, 429, 429]
