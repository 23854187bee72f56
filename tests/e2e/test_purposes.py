"""Purposes bound to keys, the key id in every audit row, expiring keys, audited history."""

from __future__ import annotations

import datetime as dt

import asyncpg
import orjson
import pytest

from tests.cases import AN
from tests.e2e.conftest import UNREACHED_RATE, Client, make_key
from verify.adapters.api_keys import create_key
from verify.service.auth import SCOPES, mint_key

PURPOSES = ("airport_checkin", "boarding")


@pytest.fixture
async def bound(loaded_db: str) -> dict[str, str]:
    token = await make_key(loaded_db, SCOPES, agency="airline", purposes=PURPOSES)
    return {"Authorization": f"Bearer {token}"}


async def _audit(db_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        return await conn.fetch("SELECT kind, purpose, key_id, verdict FROM audit_log ORDER BY seq")
    finally:
        await conn.close()


def _key_id(headers: dict[str, str]) -> str:
    return headers["Authorization"].split("_")[1]


async def test_a_key_bound_to_airport_checkin_refuses_marketing(
    client: Client, bound: dict[str, str], loaded_db: str
) -> None:
    refused = await client.post(
        "/v1/verify",
        json={"id_number": AN, "gender": "male", "purpose": "marketing"},
        headers=bound,
    )
    assert refused.status == 403
    assert refused.content_type == "application/problem+json"
    assert (await refused.json(content_type=None))["code"] == "purpose_not_allowed"
    ok = await client.post(
        "/v1/verify",
        json={"id_number": AN, "gender": "male", "purpose": "airport_checkin"},
        headers=bound,
    )
    assert ok.status == 200
    unstated = await client.post(
        "/v1/verify", json={"id_number": AN, "gender": "male"}, headers=bound
    )
    assert unstated.status == 200
    rows = await _audit(loaded_db)
    assert [(r["purpose"], r["key_id"]) for r in rows] == [
        ("airport_checkin", _key_id(bound)),
        ("airport_checkin", _key_id(bound)),  # recorded under the key's first purpose
    ]


async def test_a_key_without_purposes_records_unspecified_never_null(
    client: Client, auth: dict[str, str], loaded_db: str
) -> None:
    assert (
        await client.post("/v1/verify", json={"id_number": AN, "gender": "male"}, headers=auth)
    ).status == 200
    body = {"id_number": AN, "gender": "male", "purpose": "kyc"}
    assert (await client.post("/v1/verify", json=body, headers=auth)).status == 200
    rows = await _audit(loaded_db)
    assert [r["purpose"] for r in rows] == ["unspecified", "kyc"]
    assert all(r["key_id"] == _key_id(auth) for r in rows)


async def test_batch_purpose_applies_to_its_items_and_an_item_problem_in_place(
    client: Client, bound: dict[str, str], loaded_db: str
) -> None:
    items = [
        {"id_number": AN, "gender": "male"},
        {"id_number": AN, "gender": "male", "purpose": "marketing"},
        {"id_number": AN, "gender": "male", "purpose": "airport_checkin"},
    ]
    response = await client.post(
        "/v1/verify/batch", json={"items": items, "purpose": "boarding"}, headers=bound
    )
    assert response.status == 200
    results = (await response.json())["results"]
    assert results[1]["code"] == "purpose_not_allowed" and results[1]["index"] == 1
    assert results[1]["status"] == 403
    assert "verdict" in results[0] and "verdict" in results[2]
    rows = await _audit(loaded_db)
    assert [r["purpose"] for r in rows] == ["boarding", "airport_checkin"]
    whole = await client.post(
        "/v1/verify/batch", json={"items": items[:1], "purpose": "marketing"}, headers=bound
    )
    assert whole.status == 403
    assert (await whole.json(content_type=None))["code"] == "purpose_not_allowed"


async def test_stream_purpose_and_line_problems(
    client: Client, bound: dict[str, str], loaded_db: str
) -> None:
    lines = [
        {"id_number": AN, "gender": "male"},
        {"id_number": AN, "gender": "male", "purpose": "marketing"},
    ]
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    response = await client.post(
        "/v1/verify/stream", params={"purpose": "boarding"}, data=data, headers=bound
    )
    assert response.status == 200
    results = [orjson.loads(x) for x in (await response.text()).splitlines()]
    assert "verdict" in results[0]
    assert (results[1]["line"], results[1]["code"]) == (2, "purpose_not_allowed")
    assert [r["purpose"] for r in await _audit(loaded_db)] == ["boarding"]
    refused = await client.post(
        "/v1/verify/stream", params={"purpose": "marketing"}, data=data, headers=bound
    )
    assert refused.status == 403


async def test_lookup_purpose_must_be_the_keys(
    client: Client, bound: dict[str, str], loaded_db: str
) -> None:
    path = f"/v1/citizens/{AN}"
    refused = await client.get(path, params={"purpose": "marketing"}, headers=bound)
    assert refused.status == 403
    assert (await refused.json(content_type=None))["code"] == "purpose_not_allowed"
    ok = await client.get(path, params={"purpose": "boarding"}, headers=bound)
    assert ok.status == 200
    assert [(r["kind"], r["purpose"]) for r in await _audit(loaded_db)] == [("lookup", "boarding")]


async def test_a_history_read_needs_a_purpose_and_appears_in_the_next_one(
    client: Client, auth: dict[str, str], loaded_db: str
) -> None:
    path = f"/v1/citizens/{AN}/access-history"
    missing = await client.get(path, headers=auth)
    assert missing.status == 400
    body = await missing.json(content_type=None)
    assert (body["code"], body["field"]) == ("missing_field", "purpose")
    first = await (
        await client.get(path, params={"purpose": "citizen_request"}, headers=auth)
    ).json()
    assert first["items"] == []
    second = await (await client.get(path, params={"purpose": "audit_review"}, headers=auth)).json()
    assert [(i["kind"], i["purpose"], i["agency"]) for i in second["items"]] == [
        ("history", "citizen_request", "test-agency")
    ]
    rows = await _audit(loaded_db)
    assert [(r["kind"], r["key_id"]) for r in rows] == [("history", _key_id(auth))] * 2


async def test_an_expired_key_is_401(client: Client, loaded_db: str) -> None:
    key = mint_key()
    conn = await asyncpg.connect(loaded_db, timeout=10)
    try:
        yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        await create_key(
            conn, key, agency="old", scopes=frozenset({"verify"}), rate_per_s=UNREACHED_RATE,
            burst=UNREACHED_RATE, expires_at=yesterday,
        )  # fmt: skip
    finally:
        await conn.close()
    headers = {"Authorization": f"Bearer {key.token}"}
    response = await client.post(
        "/v1/verify", json={"id_number": AN, "gender": "male"}, headers=headers
    )
    assert response.status == 401
    assert "expired" in (await response.json(content_type=None))["detail"]
