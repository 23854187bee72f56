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

from verify.domain.errors import ValidationError
from verify.errors import ServiceError
from verify.http.appkeys import LIMITER, SETTINGS
from verify.http.middleware import REQUEST_ID
from verify.http.problems import problem_body
from verify.http.routes import Parsed, answer_all, context, parse_item, principal
from verify.service.auth import Principal
from verify.service.limits import pace

MAX_LINE_BYTES = 64 * 1024
IDLE_TIMEOUT_S = 30.0  # no upload data for this long ends the stream
MAX_PACE_WAIT_S = 60.0


def _decode(raw: bytes, line: int) -> Parsed:
    if len(raw) > MAX_LINE_BYTES:
        return {"line": line, **problem_body("body_too_large", "this line is too long")}
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"line": line, **problem_body("invalid_json", "this line is not valid JSON")}
    return parse_item(item, ("line", line))


Numbered = list[tuple[int, bytes]]  # (input line number, raw line)


class LineReader:
    """Numbered, non-blank lines of the request body, a network read at a time.

    Blank lines are skipped (they are not records) but counted, so line numbers are
    those of the input.
    """

    def __init__(self, content: StreamReader) -> None:
        self._content = content
        self._rest = b""
        self.number = 0  # input lines consumed so far
        self.too_long = False  # a line longer than MAX_LINE_BYTES: reading stopped

    async def next_lines(self) -> Numbered | None:
        """The lines of the next read (maybe none); None at the end of the body."""
        while True:
            data: bytes = await asyncio.wait_for(self._content.readany(), IDLE_TIMEOUT_S)
            if not data:
                last, self._rest = self._rest, b""
                return self._numbered([last]) if last.strip() else None
            *lines, self._rest = (self._rest + data).split(b"\n")
            if len(self._rest) > MAX_LINE_BYTES:
                self.too_long = True
                return self._numbered(lines)
            numbered = self._numbered(lines)
            if numbered:
                return numbered

    def _numbered(self, lines: list[bytes]) -> Numbered:
        out: Numbered = []
        for raw in lines:
            self.number += 1
            if raw.strip():
                out.append((self.number, raw))
        return out


async def _answer(
    request: web.Request, who: Principal, response: web.StreamResponse, batch: Numbered
) -> bool:
    """Answer one read's lines; False when the stream must end (their problems written)."""
    app = request.app
    parsed = [_decode(raw, number) for number, raw in batch]
    try:
        await pace(who, len(batch), app[LIMITER], max_wait_s=MAX_PACE_WAIT_S)
        async with asyncio.timeout(app[SETTINGS].request_timeout_s):
            results = await answer_all(app, parsed, context(request, who, "stream"))
    except (ServiceError, TimeoutError) as e:
        code = e.code if isinstance(e, ServiceError) else "timeout"
        detail = "not answered: the stream ended here"
        await _write(response, [{"line": n, **problem_body(code, detail)} for n, _ in batch])
        return False
    await _write(response, results)
    return True


async def post_verify_stream(request: web.Request) -> web.StreamResponse:
    who = principal(request, "verify")
    reader = LineReader(request.content)
    # the first lines are read before answering: a body without a line is a 400, not an
    # empty 200 that a client could take for "all verified" (a slow start is a 503 timeout)
    batch = await reader.next_lines()
    if batch is None:
        raise ValidationError("invalid_json", "the request body holds no line")
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    response.headers["X-Request-Id"] = request[REQUEST_ID]
    await response.prepare(request)
    while batch is not None:
        if batch and not await _answer(request, who, response, batch):
            break
        if reader.too_long:
            tail = problem_body("body_too_large", f"a line is over {MAX_LINE_BYTES} bytes")
            await _write(response, [{"line": reader.number + 1, **tail}])
            break
        batch = await _next(reader, response)
    await response.write_eof()
    return response


async def _next(reader: LineReader, response: web.StreamResponse) -> Numbered | None:
    try:
        return await reader.next_lines()
    except TimeoutError:
        idle = problem_body("timeout", f"no data for {IDLE_TIMEOUT_S:.0f}s: the stream ended here")
        await _write(response, [{"line": reader.number + 1, **idle}])
        return None


async def _write(response: web.StreamResponse, results: list[dict[str, object]]) -> None:
    await response.write(b"".join(orjson.dumps(r) + b"\n" for r in results))


post_verify_stream.long_running = True  # type: ignore[attr-defined]


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/verify/stream", post_verify_stream)
