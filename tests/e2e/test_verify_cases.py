"""Every hand-written case of tests/cases.py over HTTP, on Postgres, with audit rows checked."""

from __future__ import annotations

import asyncpg
import pytest

from tests.cases import BATCH_ITEMS, CASES, INVALID_CASES, Case, InvalidCase
from tests.e2e.conftest import Client


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_case(client: Client, auth: dict[str, str], case: Case) -> None:
    response = await client.post("/v1/verify", json=case.body, headers=auth)
    assert response.status == 200
    body = await response.json()
    assert body.pop("request_id") == response.headers["X-Request-Id"]
    assert body.pop("reference") == case.body.get("reference")
    assert body == case.expected


@pytest.mark.parametrize("case", INVALID_CASES, ids=[c.name for c in INVALID_CASES])
async def test_invalid_case(client: Client, auth: dict[str, str], case: InvalidCase) -> None:
    response = await client.post("/v1/verify", json=case.body, headers=auth)
    assert response.status == 400
    problem = await response.json(content_type=None)
    assert (problem["code"], problem.get("field")) == (case.code, case.field)


async def test_batch_of_cases(client: Client, auth: dict[str, str]) -> None:
    items = [item.body for item in BATCH_ITEMS]
    response = await client.post("/v1/verify/batch", json={"items": items}, headers=auth)
    assert response.status == 200
    results = (await response.json())["results"]
    assert len(results) == len(BATCH_ITEMS)
    for index, (item, result) in enumerate(zip(BATCH_ITEMS, results, strict=True)):
        if isinstance(item, Case):
            result.pop("reference")
            assert result == item.expected, item.name
        else:
            assert (result["code"], result.get("field")) == (item.code, item.field), item.name
            assert result["index"] == index and result["status"] == 400


async def test_every_answer_has_its_audit_row(
    client: Client, auth: dict[str, str], loaded_db: str
) -> None:
    items = [item.body for item in BATCH_ITEMS]
    batch = await client.post("/v1/verify/batch", json={"items": items}, headers=auth)
    single = await client.post("/v1/verify", json=CASES[0].body, headers=auth)
    conn = await asyncpg.connect(loaded_db, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT request_id, kind, verdict, subject FROM audit_log ORDER BY request_id"
        )
    finally:
        await conn.close()
    by_request: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_request.setdefault(row["request_id"], []).append(row)
    batch_rows = by_request[batch.headers["X-Request-Id"]]
    assert len(batch_rows) == sum(isinstance(i, Case) for i in BATCH_ITEMS)
    assert {r["kind"] for r in batch_rows} == {"batch_item"}
    [single_row] = by_request[single.headers["X-Request-Id"]]
    assert single_row["kind"] == "verify"
    assert single_row["verdict"] == CASES[0].expected["verdict"]
    assert len(single_row["subject"]) == 32  # an HMAC, not the ID number
