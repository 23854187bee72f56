"""citizen-verify-client against the real app over HTTP (Postgres, Redis, audit).

The app runs in this test's event loop on a real port; the sync client runs in a
thread so that the loop keeps serving while it blocks.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import pytest
from citizen_verify_client import (
    ApiError,
    AsyncClient,
    Claim,
    Client,
    RetryPolicy,
    is_problem,
)
from citizen_verify_client.cli import main as cli_main

from tests.cases import BATCH_ITEMS, CASES, Case
from tests.e2e.conftest import Client as TestClient
from tests.e2e.test_rate_limits import _limited_key
from tests.support.wait import eventually


def claim(body: object) -> Claim:
    """A test case's body as the client's Claim type (the cases are plain dicts)."""
    return cast(Claim, body)


AN = claim(CASES[0].body)
FAST = RetryPolicy(attempts=10, backoff_s=0.05, total_s=30)
CLAIMS: list[Case] = [c for c in CASES if "qr" not in c.body][:20]


def base_url(client: TestClient) -> str:
    return f"http://{client.host}:{client.port}"


class Recording(httpx.HTTPTransport):
    """Notes each attempt's request id and status."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.seen.append((request.headers["X-Request-Id"], response.status_code))
        return response


def _strip(result: Any) -> Any:
    return {k: v for k, v in result.items() if k not in ("request_id", "reference")}


async def test_async_verify_many_and_stream(client: TestClient, token: str) -> None:
    claims = [claim(c.body) for c in CLAIMS] * 130  # 2,600 claims: three batches of at most 1,000
    async with AsyncClient(base_url(client), token, retry=FAST) as api:
        one = await api.verify(AN)
        assert _strip(one) == CASES[0].expected and one["request_id"]
        many = await api.verify_many(claims)
        streamed = [r async for r in api.stream(claims, window_bytes=16 * 1024)]
    for results in (many, streamed):
        assert len(results) == len(claims)
        for n, result in enumerate(results):
            assert _strip(result) == CLAIMS[n % len(CLAIMS)].expected, n


async def test_item_problems_in_place_with_their_position(client: TestClient, token: str) -> None:
    items = [claim(i.body) for i in BATCH_ITEMS]
    async with AsyncClient(base_url(client), token, batch_size=3) as api:
        many = await api.verify_many(items)
        streamed = [r async for r in api.stream(items, window_bytes=200)]
    for n, item in enumerate(BATCH_ITEMS):
        for result, where in ((many[n], ("index", n)), (streamed[n], ("line", n + 1))):
            if isinstance(item, Case):
                assert _strip(result) == item.expected, item.name
            else:
                assert is_problem(result), item.name
                assert (result["code"], result.get("field")) == (item.code, item.field)
                assert result.get(where[0]) == where[1], item.name


async def test_malformed_claim_raises_typed_error(client: TestClient, token: str) -> None:
    async with AsyncClient(base_url(client), token) as api:
        with pytest.raises(ApiError) as raised:
            await api.verify({"id_number": "12345"})
    assert (raised.value.status, raised.value.code) == (400, "invalid_id_number")
    assert raised.value.field == "id_number" and raised.value.request_id


async def test_sync_client_waits_out_429_keeping_the_request_id(
    client: TestClient, loaded_db: str
) -> None:
    _, token = await _limited_key(loaded_db, rate=1, burst=1)
    transport = Recording()

    def three() -> list[Any]:
        with Client(base_url(client), token, retry=FAST, transport=transport) as api:
            return [api.verify(AN) for _ in range(3)]

    results = await asyncio.to_thread(three)
    assert [_strip(r) for r in results] == [CASES[0].expected] * 3
    statuses = [status for _, status in transport.seen]
    assert statuses.count(200) == 3 and 429 in statuses
    attempts_of = {r["request_id"]: [s for rid, s in transport.seen if rid == r["request_id"]]
                   for r in results}  # fmt: skip
    assert sum(len(a) for a in attempts_of.values()) == len(transport.seen)
    assert all(a[-1] == 200 and set(a[:-1]) <= {429} for a in attempts_of.values())


async def test_a_wait_beyond_the_time_budget_is_not_taken(
    client: TestClient, loaded_db: str
) -> None:
    _, token = await _limited_key(loaded_db, rate=1, burst=1)
    transport = Recording()
    policy = RetryPolicy(attempts=5, total_s=0.5)  # Retry-After (1 s) exceeds it

    def twice() -> None:
        with Client(base_url(client), token, retry=policy, transport=transport) as api:
            api.verify(AN)
            api.verify(AN)

    with pytest.raises(ApiError) as raised:
        await asyncio.to_thread(twice)
    assert (raised.value.status, raised.value.code) == (429, "rate_limited")
    assert raised.value.retry_after is not None and raised.value.retry_after >= 1
    assert [status for _, status in transport.seen] == [200, 429]


async def test_sync_client_rides_out_a_503(client: TestClient, token: str, loaded_db: str) -> None:
    transport = Recording()
    conn = await asyncpg.connect(loaded_db, timeout=10)
    try:
        await conn.execute("ALTER TABLE audit_log RENAME TO audit_log_away")

        def verify() -> Any:
            with Client(base_url(client), token, retry=FAST, transport=transport) as api:
                return api.verify(AN)

        answer = asyncio.ensure_future(asyncio.to_thread(verify))

        async def refused() -> bool:
            return any(status == 503 for _, status in transport.seen)

        await eventually(refused, within=10, what="a 503")
        await conn.execute("ALTER TABLE audit_log_away RENAME TO audit_log")
        result = await asyncio.wait_for(answer, 30)
    finally:
        await conn.close()
    assert _strip(result) == CASES[0].expected
    assert {rid for rid, _ in transport.seen} == {result["request_id"]}
    assert transport.seen[0][1] == 503 and transport.seen[-1][1] == 200


VN_HEADER = ["MaHoSo", "SoDinhDanh", "HoTen", "NgaySinh", "GioiTinh", "NgayCap"]


def _vn_rows() -> list[list[str]]:
    an = CASES[0].body  # Nguyễn Văn An, all fields
    an_id, an_name = str(an["id_number"]), str(an["full_name"])
    return [
        ["HS-1", an_id, an_name, "14/05/2003", "Nam", "01/07/2021"],
        ["HS-2", an_id, an_name, "2003-05-14", "m", ""],
        ["HS-3", an_id, an_name, "2003", "NAM", ""],
        ["HS-4", an_id, an_name, "31/02/2003", "Nam", ""],  # no such day
        ["HS-5", an_id, an_name, "14/05/2003", "X", ""],  # unknown gender
        ["HS-6", "", an_name, "14/05/2003", "Nam", ""],  # no ID number
        ["HS-7", an_id, an_name, "14/05/2003", "Nữ", ""],  # gender does not match
        ["HS-8", "12345", an_name, "", "", ""],  # malformed ID (the server says so)
    ]


async def test_cli_checks_a_csv_with_vietnamese_headers(
    client: TestClient, token: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([VN_HEADER, *_vn_rows()])
    argv = [
        "check", "--in", str(source), "--out", str(out), "--purpose", "kyc_cleanup",
        "--url", base_url(client), "--key", token, "--keep", "MaHoSo", "--batch-size", "3",
        "--map", "id_number=SoDinhDanh,full_name=HoTen,date_of_birth=NgaySinh,"
        "gender=GioiTinh,card_issue_date=NgayCap",
    ]  # fmt: skip
    assert await asyncio.to_thread(cli_main, argv) == 0
    with out.open(newline="", encoding="utf-8") as f:
        rows = {r["MaHoSo"]: r for r in csv.DictReader(f)}
    assert list(rows) == [f"HS-{n}" for n in range(1, 9)]
    assert [rows[f"HS-{n}"]["line"] for n in range(1, 9)] == [str(n) for n in range(2, 10)]
    assert rows["HS-1"]["verdict"] == "match" and rows["HS-1"]["card"] == "valid"
    assert rows["HS-2"]["gender"] == "match" and rows["HS-2"]["card"] == "not_provided"
    assert rows["HS-3"]["date_of_birth"] == "match/year_only"
    bad = {k: (rows[k]["problem"], rows[k]["problem_field"]) for k in ("HS-4", "HS-5", "HS-6")}
    assert bad == {
        "HS-4": ("invalid_date", "date_of_birth"),
        "HS-5": ("invalid_field", "gender"),
        "HS-6": ("missing_field", "id_number"),
    }
    assert (rows["HS-7"]["verdict"], rows["HS-7"]["reasons"]) == ("no_match", "gender")
    assert (rows["HS-8"]["problem"], rows["HS-8"]["problem_field"]) == (
        "invalid_id_number",
        "id_number",
    )
    err = capsys.readouterr().err
    assert "line 5: invalid_date (date_of_birth)" in err
    assert "line 9: invalid_id_number (id_number)" in err
    assert "31/02/2003" not in err and "12345" not in err
    assert "verdict  match" in err and "reason   gender" in err
