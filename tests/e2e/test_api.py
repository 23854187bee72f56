"""HTTP behaviour that is not about matching: auth, errors, limits, batch shape, ops routes."""

from __future__ import annotations

import io
import random

import asyncpg
import orjson
import pytest
from aiohttp import web

from tests.cases import REGISTER
from tests.e2e.conftest import AiohttpClient, Client, make_key
from verify.adapters.api_keys import revoke_key
from verify.bootstrap import create_app
from verify.settings import Settings

VALID_ID = REGISTER[0].record.id_number


async def test_healthz_and_readyz(client: Client) -> None:
    for path in ("/healthz", "/readyz"):
        response = await client.get(path)
        assert response.status == 200, path


async def test_missing_key_is_401_problem(client: Client) -> None:
    response = await client.post("/v1/verify", json={"id_number": VALID_ID})
    assert response.status == 401
    assert response.content_type == "application/problem+json"
    body = await response.json(content_type=None)
    assert body["code"] == "unauthorized" and body["status"] == 401


async def test_wrong_secret_is_401(client: Client, token: str) -> None:
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = await client.post(
        "/v1/verify", json={"id_number": VALID_ID}, headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status == 401


async def test_revoked_key_is_401(client: Client, loaded_db: str) -> None:
    token = await make_key(loaded_db, frozenset({"verify"}))
    conn = await asyncpg.connect(loaded_db, timeout=10)
    try:
        assert await revoke_key(conn, token.split("_")[1])
    finally:
        await conn.close()
    headers = {"Authorization": f"Bearer {token}"}
    response = await client.post("/v1/verify", json={"id_number": VALID_ID}, headers=headers)
    assert response.status == 401
    assert "revoked" in (await response.json(content_type=None))["detail"]


async def test_key_without_scope_is_403(client: Client, loaded_db: str) -> None:
    token = await make_key(loaded_db, frozenset({"lookup:basic"}))
    headers = {"Authorization": f"Bearer {token}"}
    response = await client.post("/v1/verify", json={"id_number": VALID_ID}, headers=headers)
    assert response.status == 403
    assert (await response.json(content_type=None))["code"] == "forbidden_scope"


async def test_request_id_is_echoed_or_made(client: Client, auth: dict[str, str]) -> None:
    given = {**auth, "X-Request-Id": "agency-req-42"}
    response = await client.post("/v1/verify", json={"id_number": VALID_ID}, headers=given)
    assert response.headers["X-Request-Id"] == "agency-req-42"
    assert (await response.json())["request_id"] == "agency-req-42"
    response = await client.post("/v1/verify", json={"id_number": VALID_ID}, headers=auth)
    assert len(response.headers["X-Request-Id"]) == 32
    leaky = {**auth, "X-Request-Id": f"kyc-{VALID_ID}"}  # an ID number: not written down
    response = await client.post("/v1/verify", json={"id_number": VALID_ID}, headers=leaky)
    assert VALID_ID not in response.headers["X-Request-Id"]


async def test_malformed_bodies_are_4xx(client: Client, auth: dict[str, str]) -> None:
    cases = {
        b"": "invalid_json",
        b"{": "invalid_json",
        b"[]": "invalid_request",
        b'"x"': "invalid_request",
        b'{"id_number": 12}': "invalid_id_number",
        b'{"id_number": "12345"}': "invalid_id_number",
        b'{"full_name": "A"}': "missing_field",
        b'{"id_number": "' + VALID_ID.encode() + b'", "date_of_brith": "2000"}': "unknown_field",
    }
    for body, code in cases.items():
        response = await client.post("/v1/verify", data=body, headers=auth)
        assert response.status == 400, body
        assert (await response.json(content_type=None))["code"] == code, body


async def test_random_bytes_never_5xx(client: Client, auth: dict[str, str]) -> None:
    rng = random.Random(7)
    pieces = [b"{", b"}", b"[", b"]", b'"', b":", b",", b"qr", b"id_number", b"\xff", b"null"]
    for _ in range(200):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        for path in ("/v1/verify", "/v1/verify/batch"):
            response = await client.post(path, data=body, headers=auth)
            assert 400 <= response.status < 500, (path, body)


async def test_body_too_large_is_413(client: Client, auth: dict[str, str]) -> None:
    body = b'{"id_number": "' + b"1" * (3 * 1024 * 1024) + b'"}'
    response = await client.post("/v1/verify", data=io.BytesIO(body), headers=auth)
    assert response.status == 413
    assert (await response.json(content_type=None))["code"] == "body_too_large"


async def test_batch_over_limit_is_refused(client: Client, auth: dict[str, str]) -> None:
    items = [{"id_number": VALID_ID}] * 1001
    response = await client.post("/v1/verify/batch", json={"items": items}, headers=auth)
    assert response.status == 413
    assert (await response.json(content_type=None))["code"] == "too_many_items"


async def test_batch_of_1000_answers_in_order(client: Client, auth: dict[str, str]) -> None:
    ids = [e.record.id_number for e in REGISTER]
    items: list[object] = [
        {"id_number": ids[i % len(ids)], "reference": str(i)} for i in range(1000)
    ]
    items[3] = {"id_number": "bad"}
    items[7] = "not an object"
    response = await client.post(
        "/v1/verify/batch", data=orjson.dumps({"items": items}), headers=auth
    )
    assert response.status == 200
    results = (await response.json())["results"]
    assert len(results) == 1000
    assert results[3]["code"] == "invalid_id_number" and results[3]["index"] == 3
    assert results[7]["code"] == "invalid_request" and results[7]["index"] == 7
    for i, result in enumerate(results):
        if i not in (3, 7):
            assert result["reference"] == str(i)
            assert result["verdict"] in ("match", "no_match")


async def test_empty_batch(client: Client, auth: dict[str, str]) -> None:
    response = await client.post("/v1/verify/batch", json={"items": []}, headers=auth)
    assert response.status == 200
    assert (await response.json())["results"] == []


async def test_batch_body_must_hold_items(client: Client, auth: dict[str, str]) -> None:
    response = await client.post("/v1/verify/batch", json={"claims": []}, headers=auth)
    assert response.status == 400
    assert (await response.json(content_type=None))["field"] == "items"


async def test_metrics_exposed(client: Client, auth: dict[str, str]) -> None:
    await client.post("/v1/verify", json={"id_number": VALID_ID}, headers=auth)
    text = await (await client.get("/metrics")).text()
    assert 'verify_http_requests_total{method="POST",outcome="2xx",route="/v1/verify"}' in text
    assert VALID_ID not in text


async def test_docs_page(client: Client) -> None:
    response = await client.get("/docs")
    assert response.status == 200
    assert "/v1/verify/batch" in await response.text()


async def test_wrong_method_is_405_problem_with_allow(client: Client, auth: dict[str, str]) -> None:
    response = await client.get("/v1/verify", headers=auth)
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert (await response.json(content_type=None))["code"] == "method_not_allowed"


async def test_a_bug_is_a_500_problem_and_its_message_is_not_logged(
    settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError(f"leaky message {VALID_ID}")

    app = create_app(settings)
    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    response = await client.get("/boom")
    assert response.status == 500
    assert (await response.json(content_type=None))["code"] == "internal_error"
    [record] = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert record.__dict__["error"] == "RuntimeError"
    assert VALID_ID not in str(record.__dict__)
