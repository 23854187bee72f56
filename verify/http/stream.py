"""POST /v1/verify/stream: NDJSON in, NDJSON out, one result line per input line, in order.

Results are written while the upload is still arriving: every piece of the body
that has arrived is answered as one batch (one lookup, one audit commit) before
more is read, so memory stays bounded by one network read plus one line,
whatever the size of the upload, and a slow reader of the answer slows the
upload down (backpressure). The stream is paced to the key's rate limit rather
than refused, and it comes before the reads: a token is paid before the first
read of the body, and each read's lines are paid for (waiting if need be) before
they are answered and before the next read. A failure mid-stream answers the
lines in hand with their problem and ends the stream; the client resumes after
the last answered line.

A stream cannot hold the server: it lasts at most ``VERIFY_STREAM_MAX_SECONDS``
(then a last problem line says so, with the line to resume from), and every
write has a deadline (``VERIFY_REQUEST_TIMEOUT``): a reader that stops reading
gets its connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from aiohttp import StreamReader, web

from verify.domain.errors import ValidationError
from verify.errors import ServiceError
from verify.http.appkeys import DRAINING, LIMITER, SETTINGS
from verify.http.middleware import PRINCIPAL, REQUEST_ID
from verify.http.problems import problem_body
from verify.http.routes import Parsed, answer_all, context, parse_item, principal, top_purpose
from verify.service.auth import Principal
from verify.service.limits import pace

log = logging.getLogger("verify.stream")

MAX_LINE_BYTES = 64 * 1024
IDLE_TIMEOUT_S = 30.0  # no upload data for this long ends the stream
MAX_PACE_WAIT_S = 60.0


def _decode(raw: bytes, line: int, purposes: tuple[str, ...]) -> Parsed:
    if len(raw) > MAX_LINE_BYTES:
        return {"line": line, **problem_body("body_too_large", "this line is too long")}
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"line": line, **problem_body("invalid_json", "this line is not valid JSON")}
    return parse_item(item, ("line", line), purposes)


_SHUTTING_DOWN = problem_body(
    "shutting_down", "the server is restarting: send the lines from this one again"
)
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
        self.answered = 0  # input lines answered so far (where a client resumes)
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


class StalledReader(Exception):
    """The client stopped reading the answer: a write missed its deadline."""


class Out:
    """The NDJSON response; every write has a deadline (a stalled reader ends the stream)."""

    def __init__(self, response: web.StreamResponse, write_timeout_s: float) -> None:
        self.response = response
        self._timeout = write_timeout_s

    async def write(self, results: list[dict[str, object]]) -> None:
        data = b"".join(orjson.dumps(r) + b"\n" for r in results)
        try:
            await asyncio.wait_for(self.response.write(data), self._timeout)
        except TimeoutError:
            raise StalledReader from None

    async def problem(self, line: int, code: str, detail: str) -> None:
        await self.write([{"line": line, **problem_body(code, detail)}])


async def _answer(
    request: web.Request, purpose: str | None, out: Out, batch: Numbered, reserved: int
) -> bool:
    """Answer one read's lines (``reserved`` of them paid already); False when the stream
    must end (their problems written)."""
    app = request.app
    who = request[PRINCIPAL]
    ctx = context(request, who, "stream", purpose)  # each read audited at its own time
    parsed = [_decode(raw, number, who.purposes) for number, raw in batch]
    try:
        await pace(who, len(batch) - reserved, app[LIMITER], max_wait_s=MAX_PACE_WAIT_S)
        async with asyncio.timeout(app[SETTINGS].request_timeout_s):
            results = await answer_all(app, parsed, ctx, [("line", n) for n, _ in batch])
    except (ServiceError, TimeoutError) as e:
        code = e.code if isinstance(e, ServiceError) else "timeout"
        detail = "not answered: the stream ended here"
        await out.write([{"line": n, **problem_body(code, detail)} for n, _ in batch])
        return False
    await out.write(results)
    return True


async def post_verify_stream(request: web.Request) -> web.StreamResponse:
    who = principal(request, "verify")
    settings = request.app[SETTINGS]
    # one purpose for every line that states none (query parameter), checked before answering
    purpose = top_purpose(request.query.get("purpose"))
    who.check_purpose(purpose)
    reader = LineReader(request.content)
    first = await _first_lines(request, who, reader)
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    response.headers["X-Request-Id"] = request[REQUEST_ID]
    await response.prepare(request)
    out = Out(response, settings.request_timeout_s)
    try:
        try:
            async with asyncio.timeout(settings.stream_max_s):
                await _pump(request, purpose, out, reader, first)
        except TimeoutError:
            limit = f"the stream reached its {settings.stream_max_s:g}s limit"
            await out.problem(reader.answered + 1, "timeout", f"{limit}: resume from this line")
        await asyncio.wait_for(response.write_eof(), settings.request_timeout_s)
    except (StalledReader, TimeoutError, ConnectionResetError):
        if request.transport is not None:
            request.transport.close()  # nothing more can reach this client
    except Exception as e:  # a bug: the status line is sent, so end with a problem line
        log.error("stream failed", extra={"error": type(e).__name__})
        with contextlib.suppress(Exception):
            detail = "an unexpected error; it has been logged: resend from this line"
            await out.problem(reader.answered + 1, "internal_error", detail)
        if request.transport is not None:
            request.transport.close()
    return response


async def _first_lines(request: web.Request, who: Principal, reader: LineReader) -> Numbered:
    """The first read, paid for before it happens (one token: a key over its limit gets
    nothing of its body read, and its refusal is a plain 429); a body without a line is a
    400, not an empty 200 a client could take for "all verified" (a slow start is a 503
    timeout)."""
    await pace(who, 1, request.app[LIMITER], max_wait_s=MAX_PACE_WAIT_S)
    first = await reader.next_lines()
    if first is None:
        raise ValidationError("invalid_json", "the request body holds no line")
    return first


async def _pump(
    request: web.Request, purpose: str | None, out: Out, reader: LineReader, first: Numbered
) -> None:
    """Answer, read, pay, repeat. The first read was paid for (one token); every later
    read follows the pacing of the lines before it, so a key over its limit never gets
    more of its body read until it may spend it."""
    reserved = 1
    batch: Numbered | None = first
    while batch is not None:
        if batch and not await _answer(request, purpose, out, batch, reserved):
            return
        reserved = 0 if batch else reserved
        reader.answered = reader.number
        if reader.too_long:
            detail = f"a line is over {MAX_LINE_BYTES} bytes"
            await out.problem(reader.number + 1, "body_too_large", detail)
            return
        if request.app[DRAINING].is_set():  # the server is stopping: end at a line boundary
            await out.write([{"line": reader.number + 1, **_SHUTTING_DOWN}])
            return
        batch = await _next(reader, out, request.app[DRAINING])


def _observed(task: asyncio.Future[Numbered | None]) -> None:
    if not task.cancelled():
        task.exception()


async def _next(reader: LineReader, out: Out, draining: asyncio.Event) -> Numbered | None:
    """The next read's lines; None when the stream ends (idle, or the server draining while
    it waits for the upload: it says so rather than be cut off at shutdown)."""
    read = asyncio.ensure_future(reader.next_lines())
    read.add_done_callback(_observed)  # whatever ends this handler, its error is seen
    stop = asyncio.ensure_future(draining.wait())
    try:
        await asyncio.wait((read, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not read.done() and not draining.is_set():  # the handler itself was cancelled
            read.cancel()
    if not read.done():
        read.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await read
        await out.write([{"line": reader.answered + 1, **_SHUTTING_DOWN}])
        return None
    try:
        return read.result()
    except TimeoutError:
        detail = f"no data for {IDLE_TIMEOUT_S:.0f}s: the stream ended here"
        await out.problem(reader.number + 1, "timeout", detail)
        return None


post_verify_stream.long_running = True  # type: ignore[attr-defined]


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/verify/stream", post_verify_stream)
