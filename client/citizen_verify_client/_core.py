"""What the sync and async clients share: request building and answer reading (no I/O)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import httpx

from citizen_verify_client.errors import ApiError
from citizen_verify_client.retry import retry_after_s
from citizen_verify_client.types import Claim

T = TypeVar("T")
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=10.0)
BATCH_MAX = 1000  # the server's batch limit
STREAM_WINDOW_BYTES = 64 * 1024  # NDJSON sent per stream request (see stream_windows)
USER_AGENT = "citizen-verify-client/0.1"
# the server replaces a request id holding a standalone 9- or 12-digit run (an ID number's shape)
_DIGIT_RUN = re.compile(r"(?<![0-9])(?:[0-9]{9}|[0-9]{12})(?![0-9])")


def new_request_id() -> str:
    while True:
        rid = "cvc-" + secrets.token_hex(12)
        if not _DIGIT_RUN.search(rid):
            return rid


def headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}


def with_purpose(claim: Claim, purpose: str | None) -> Claim:
    if purpose is None or "purpose" in claim:
        return claim
    return {**claim, "purpose": purpose}


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def api_error(response: httpx.Response) -> ApiError:
    """The ApiError of an error answer, from its problem+json body when it has one."""
    request_id = response.headers.get("X-Request-Id")
    body: Any = None
    if response.headers.get("Content-Type", "").startswith(
        ("application/problem+json", "application/json")
    ):
        try:
            body = response.json()
        except ValueError:
            body = None
    code, detail, field = f"http_{response.status_code}", response.reason_phrase, None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        code, detail = body["code"], str(body.get("detail", detail))
        field = body.get("field") if isinstance(body.get("field"), str) else None
    return ApiError(
        response.status_code,
        code,
        detail,
        field=field,
        request_id=request_id,
        retry_after=retry_after_s(response),
    )


def check(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    raise api_error(response)


RESUMABLE_CODES = frozenset({"rate_limited", "overloaded", "timeout", "database_unavailable"})


def resume_from(results: list[Any]) -> int | None:
    """Where a cut stream window must be sent again, or None when every line was answered.

    A failure mid-stream answers the lines in hand with a retryable problem and ends
    the stream (the server's contract): those lines, and any left unanswered, are resent.
    """
    for i, result in enumerate(results):
        if isinstance(result, dict) and result.get("code") in RESUMABLE_CODES:
            return i
    return None


def ndjson_line(claim: Claim) -> bytes:
    return json.dumps(claim, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def windows(claims: Iterable[Claim], limit: int = STREAM_WINDOW_BYTES) -> Iterator[list[bytes]]:
    """NDJSON lines grouped into request bodies of at most ``limit`` bytes (one line at least).

    The stream endpoint answers while the upload arrives, but httpx sends a whole
    body before reading the answer: a body small enough to sit in the socket and
    server buffers can never deadlock against an answer the client is not reading yet.
    """
    window: list[bytes] = []
    size = 0
    for claim in claims:
        line = ndjson_line(claim)
        if window and size + len(line) > limit:
            yield window
            window, size = [], 0
        window.append(line)
        size += len(line)
    if window:
        yield window


def parse_ndjson(body: bytes) -> list[Any]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def renumber(results: list[Any], offset: int, key: str = "line") -> list[Any]:
    """Item problems carry their position in one request (``line`` of a stream, ``index``
    of a batch): make it the position in the caller's whole input."""
    for result in results:
        if isinstance(result, dict) and isinstance(result.get(key), int):
            result[key] += offset
    return results


def split_answered(results: list[Any], sent: int) -> tuple[list[Any], Any]:
    """The results of a stream window that stand, and the problem that cut it (or None)."""
    cut = resume_from(results)
    if cut is None:
        return results[:sent], None
    return results[:cut], results[cut]


def cut_error(problem: Any, response: httpx.Response) -> ApiError:
    """The error of a stream window that could not be completed within the retry policy."""
    rid = response.headers.get("X-Request-Id")
    if isinstance(problem, dict):
        status = problem.get("status")
        return ApiError(
            status if isinstance(status, int) else 503,
            str(problem.get("code")),
            str(problem.get("detail", "")),
            request_id=rid,
        )
    return ApiError(502, "incomplete_stream", "the stream ended before every line", request_id=rid)
