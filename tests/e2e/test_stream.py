"""POST /v1/verify/stream: NDJSON in and out, in order, streamed while the upload arrives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import orjson

from tests.cases import BATCH_ITEMS, CASES, Case
from tests.e2e.conftest import Client
from tests.e2e.test_rate_limits import _limited_key
from verify.http.stream import LineReader

PATH = "/v1/verify/stream"


def _ndjson(bodies: Sequence[object]) -> bytes:
    return b"".join(orjson.dumps(b) + b"\n" for b in bodies)


async def _lines(response: object) -> list[dict[str, object]]:
    text = await response.text()  # type: ignore[attr-defined]
    return [orjson.loads(line) for line in text.splitlines()]


async def test_every_line_answered_in_order(
    client: Client, auth: dict[str, str], loaded_db: str
) -> None:
    bodies = [case.body for case in CASES] * 30  # 2,640 lines
    response = await client.post(PATH, data=_ndjson(bodies), headers=auth)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    results = await _lines(response)
    assert len(results) == len(bodies)
    for n, result in enumerate(results):
        case = CASES[n % len(CASES)]
        result.pop("reference")
        assert result == case.expected, (n, case.name)
    conn = await asyncpg.connect(loaded_db, timeout=10)
    try:
        rows = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE request_id = $1 AND kind = 'stream'",
            response.headers["X-Request-Id"],
        )
    finally:
        await conn.close()
    assert rows == len(bodies)


async def test_bad_lines_get_problems_with_their_line_number(
    client: Client, auth: dict[str, str]
) -> None:
    good = CASES[0].body
    raw = _ndjson([good]) + b"{not json\n" + _ndjson([{"id_number": "1"}, good]) + b"\n"
    raw += orjson.dumps(good)  # the last line has no newline
    results = await _lines(await client.post(PATH, data=raw, headers=auth))
    # the blank line 5 is not a record: skipped, but counted in the line numbers
    assert [r.get("code") for r in results] == [
        None, "invalid_json", "invalid_id_number", None, None,
    ]  # fmt: skip
    assert [r.get("line") for r in results if "code" in r] == [2, 3]
    assert len(results) == 5


async def test_results_flow_while_the_upload_is_still_arriving(
    client: Client, auth: dict[str, str]
) -> None:
    first_result = asyncio.Event()
    items = [item.body for item in BATCH_ITEMS if isinstance(item, Case)]

    async def upload() -> AsyncIterator[bytes]:
        yield _ndjson(items)
        # the rest is sent only once an answer for the first part came back
        await asyncio.wait_for(first_result.wait(), timeout=10)
        yield _ndjson(items)

    response = await client.post(PATH, data=upload(), headers=auth)
    assert response.status == 200
    got = 0
    while line := await response.content.readline():
        got += 1
        if got == len(items):
            first_result.set()
        assert b'"verdict"' in line
    assert got == 2 * len(items)


async def test_stream_needs_the_verify_scope(client: Client) -> None:
    response = await client.post(PATH, data=b"{}\n")
    assert response.status == 401


async def test_a_stream_over_the_limit_is_paced_not_refused(client: Client, loaded_db: str) -> None:
    _, token = await _limited_key(loaded_db, rate=100, burst=100)
    headers = {"Authorization": f"Bearer {token}"}
    bodies = [CASES[0].body] * 250
    results = await _lines(await client.post(PATH, data=_ndjson(bodies), headers=headers))
    assert len(results) == 250 and all("verdict" in r for r in results)
    # the stream spent the key's allowance: what is left right after (a token every 10 ms,
    # and at most one lease block of burst/10 held by the process) cannot carry 40 verifies;
    # one request alone could land on a fresh token, so 40 are sent together
    after = await asyncio.gather(
        *(client.post("/v1/verify", json=CASES[0].body, headers=headers) for _ in range(40))
    )
    assert 429 in {r.status for r in after}


async def test_a_line_too_long_gets_its_problem(client: Client, auth: dict[str, str]) -> None:
    good = _ndjson([CASES[0].body, CASES[0].body])
    raw = good + b'{"id_number": "' + b"1" * 70_000 + b'"}\n' + good
    results = await _lines(await client.post(PATH, data=raw, headers=auth))
    assert [r.get("code") for r in results] == [None, None, "body_too_large", None, None]
    assert results[2]["line"] == 3


class _Chunks:
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def readany(self) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""


async def test_a_line_that_never_ends_stops_the_reader() -> None:
    reader = LineReader(_Chunks([b"{}\n\n{}\n" + b"x" * 70_000]))  # type: ignore[arg-type]
    assert await reader.next_lines() == [(1, b"{}"), (3, b"{}")]
    assert reader.too_long and reader.number == 3


async def test_a_body_without_a_line_is_refused(client: Client, auth: dict[str, str]) -> None:
    for body in (b"", b"\n", b" \n\r\n\n"):
        response = await client.post(PATH, data=body, headers=auth)
        assert response.status == 400, body
        problem = await response.json(content_type=None)
        assert problem["code"] == "invalid_json"
