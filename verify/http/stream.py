"""POST /v1/verify/stream: NDJSON in, NDJSON out, one result line per input line, in order.

Results are written while the upload is still arriving: every piece of the body
that has arrived is answered as one batch (one lookup, one audit commit) before
more is read, so memory stays bounded by one network read plus one line,
whatever the size of the upload, and a slow reader of the answer slows the
upload down (backpressure). The stream is paced to the key's rate limit rather
than refused. A failure mid-stream answers the lines in hand with their problem
and ends the stream; the client resumes after the last answered line.
"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import StreamReader, web

from verify.errors import ServiceError
from verify.http.appkeys import LIMITER, SETTINGS
from verify.http.middleware import REQUEST_ID
from verify.http.problems import problem_body
from verify.http.routes import Parsed, answer_all, context, parse_item, principal
from verify.service.limits import pace

MAX_LINE_BYTES = 64 * 1024
IDLE_TIMEOUT_S = 30.0  # no upload data for this long ends the stream
MAX_PACE_WAIT_S = 60.0


def _decode(raw: bytes, line: int) -> Parsed:
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"line": line, **problem_body("invalid_json", "this line is not valid JSON")}
    return parse_item(item, ("line", line))


class LineReader:
    """Complete lines from the request body, a network read at a time."""

    def __init__(self, content: StreamReader) -> None:
        self._content = content
        self._rest = b""
        self.too_long = False

    async def next_lines(self) -> list[bytes]:
        """The complete lines of the next read; [] at the end of the body."""
        while True:
            data: bytes = await asyncio.wait_for(self._content.readany(), IDLE_TIMEOUT_S)
            if not data:
                last, self._rest = self._rest, b""
                return [last] if last.strip() else []
            *lines, self._rest = (self._rest + data).split(b"\n")
            if len(self._rest) > MAX_LINE_BYTES:
                self.too_long = True
                return lines
            if lines:
                return lines


async def post_verify_stream(request: web.Request) -> web.StreamResponse:
    who = principal(request, "verify")
    app = request.app
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    response.headers["X-Request-Id"] = request[REQUEST_ID]
    await response.prepare(request)
    reader = LineReader(request.content)
    number = 0
    while lines := await _next(reader, response, number):
        parsed = [_decode(raw, number + i + 1) for i, raw in enumerate(lines)]
        number += len(lines)
        try:
            await pace(who, len(lines), app[LIMITER], max_wait_s=MAX_PACE_WAIT_S)
            async with asyncio.timeout(app[SETTINGS].request_timeout_s):
                results = await answer_all(app, parsed, context(request, who, "stream"))
        except (ServiceError, TimeoutError) as e:
            code = e.code if isinstance(e, ServiceError) else "timeout"
            first = number - len(lines) + 1
            results = [
                {"line": first + i, **problem_body(code, "not answered: the stream ended here")}
                for i in range(len(lines))
            ]
            await _write(response, results)
            break
        await _write(response, results)
        if reader.too_long:
            tail = {"line": number + 1, **problem_body("body_too_large", "a line is too long")}
            await _write(response, [tail])
            break
    await response.write_eof()
    return response


async def _next(reader: LineReader, response: web.StreamResponse, number: int) -> list[bytes]:
    try:
        return await reader.next_lines()
    except TimeoutError:
        idle = problem_body("timeout", f"no data for {IDLE_TIMEOUT_S:.0f}s: the stream ended here")
        await _write(response, [{"line": number + 1, **idle}])
        return []


async def _write(response: web.StreamResponse, results: list[dict[str, object]]) -> None:
    await response.write(b"".join(orjson.dumps(r) + b"\n" for r in results))


post_verify_stream.long_running = True  # type: ignore[attr-defined]


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/verify/stream", post_verify_stream)
