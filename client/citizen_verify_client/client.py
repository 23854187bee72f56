"""The synchronous client: ``Client(url, api_key)``; ``AsyncClient`` mirrors it in aio.py."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self, cast

import httpx

from citizen_verify_client import _core
from citizen_verify_client.errors import TransportError
from citizen_verify_client.jobs import Jobs
from citizen_verify_client.retry import Attempts, RetryPolicy
from citizen_verify_client.types import Claim, Result, VerifyResult

Body = bytes | Callable[[], Iterable[bytes]] | None  # a callable makes a fresh body per attempt


class Client:
    """Sync client. Every call retries 429/503 and transport failures per ``retry``,
    keeping one ``X-Request-Id`` across the attempts of one request."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        purpose: str | None = None,
        timeout: httpx.Timeout = _core.DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        batch_size: int = _core.BATCH_MAX,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not 1 <= batch_size <= _core.BATCH_MAX:
            raise ValueError(f"batch_size must be 1 to {_core.BATCH_MAX}")
        self.purpose = purpose
        self.batch_size = batch_size
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(
            base_url=url, headers=_core.headers(api_key), timeout=timeout, transport=transport
        )
        self.jobs = Jobs(self)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: Body = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> httpx.Response:
        """One request with retries; the answer when it is a success, else ApiError."""
        with self._open(method, path, json, content, headers, params, request_id, False) as r:
            return r

    @contextmanager
    def open_stream(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Iterator[httpx.Response]:
        """A successful answer whose body is read by the caller (retried until it starts)."""
        with self._open(method, path, None, None, headers, params, None, True) as response:
            yield response

    @contextmanager
    def _open(
        self,
        method: str,
        path: str,
        json: Any,
        content: Body,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        request_id: str | None,
        stream: bool,
    ) -> Iterator[httpx.Response]:
        rid = request_id or _core.new_request_id()
        attempts = Attempts(self.retry)
        while True:
            body = content() if callable(content) else content
            request = self._http.build_request(
                method, path, json=json, content=body, params=params,
                headers={**(headers or {}), "X-Request-Id": rid},
            )  # fmt: skip
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as e:
                delay = attempts.delay_after(None)
                if delay is None:
                    raise TransportError(f"{method} {path}: {e!r}", request_id=rid) from e
                time.sleep(delay)
                continue
            try:
                if response.is_success:
                    yield response
                    return
                if stream:
                    response.read()
                delay = attempts.delay_after(response)
                if delay is None:
                    raise _core.api_error(response)
            finally:
                response.close()
            time.sleep(delay)

    def verify(self, claim: Claim, *, request_id: str | None = None) -> VerifyResult:
        """One claim's verdict; a malformed claim raises ApiError (400, its code)."""
        body = _core.with_purpose(claim, self.purpose)
        response = self.send("POST", "/v1/verify", json=body, request_id=request_id)
        return cast(VerifyResult, response.json())

    def iter_verify_many(self, claims: Iterable[Claim]) -> Iterator[Result]:
        """Results in input order, one batch request per ``batch_size`` claims; a malformed
        claim gets its problem in place, ``index`` its 0-based position in ``claims``."""
        offset = 0
        for chunk in _core.chunks(claims, self.batch_size):
            items = [_core.with_purpose(c, self.purpose) for c in chunk]
            response = self.send("POST", "/v1/verify/batch", json={"items": items})
            results = _core.renumber(response.json()["results"], offset, "index")
            offset += len(chunk)
            yield from cast(list[Result], results)

    def verify_many(self, claims: Iterable[Claim]) -> list[Result]:
        return list(self.iter_verify_many(claims))

    def stream(
        self, claims: Iterable[Claim], *, window_bytes: int = _core.STREAM_WINDOW_BYTES
    ) -> Iterator[Result]:
        """Results in input order over POST /v1/verify/stream, sent in bounded windows; a
        window cut short by a retryable failure is resumed after its last answered line.
        Problems carry ``line``, the claim's 1-based position in ``claims``."""
        offset = 0
        for window in _core.windows(
            (_core.with_purpose(c, self.purpose) for c in claims), window_bytes
        ):
            yield from self._stream_window(window, offset)
            offset += len(window)

    def _stream_window(self, pending: list[bytes], base: int) -> Iterator[Result]:
        attempts = Attempts(self.retry)
        while pending:
            response = self.send(
                "POST", "/v1/verify/stream", content=b"".join(pending),
                headers={"Content-Type": "application/x-ndjson"},
            )  # fmt: skip
            results = _core.renumber(_core.parse_ndjson(response.content), base)
            answered, cut = _core.split_answered(results, len(pending))
            yield from answered
            pending, base = pending[len(answered) :], base + len(answered)
            if not pending:
                return
            if answered:
                attempts = Attempts(self.retry)
            delay = attempts.delay_after(None)
            if delay is None:
                raise _core.cut_error(cut, response)
            time.sleep(delay)
