"""Backoff with jitter, Retry-After honoured, attempts and total time bounded."""

from __future__ import annotations

import random

import httpx
from citizen_verify_client.retry import Attempts, RetryPolicy, retry_after_s


def _response(status: int, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(status, headers=headers)


def test_only_429_503_and_transport_failures_are_retried() -> None:
    attempts = Attempts(RetryPolicy(attempts=10))
    for status in (400, 401, 403, 404, 413, 500, 502):
        assert attempts.delay_after(_response(status)) is None
    assert attempts.delay_after(_response(429, "1")) is not None
    assert attempts.delay_after(_response(503)) is not None
    assert attempts.delay_after(None) is not None


def test_retry_after_is_waited_with_a_little_jitter() -> None:
    attempts = Attempts(RetryPolicy(attempts=10, backoff_s=0.5), rng=random.Random(1))
    delays = [attempts.delay_after(_response(429, "3")) for _ in range(5)]
    assert all(d is not None and 3 <= d <= 3 + 0.1 * 10 for d in delays)


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(attempts=50, backoff_s=0.1, max_backoff_s=2.0, total_s=1e9)
    attempts = Attempts(policy, rng=random.Random(7))
    delays = [attempts.delay_after(None) for _ in range(40)]
    assert all(d is not None and 0 <= d <= 2.0 for d in delays)
    assert max(d for d in delays[:3] if d is not None) <= 0.4


def test_attempts_are_bounded() -> None:
    attempts = Attempts(RetryPolicy(attempts=3))
    assert attempts.delay_after(_response(503, "0")) is not None
    assert attempts.delay_after(_response(503, "0")) is not None
    assert attempts.delay_after(_response(503, "0")) is None


def test_total_time_and_long_retry_after_are_bounded() -> None:
    attempts = Attempts(RetryPolicy(attempts=10, total_s=5, max_retry_after_s=60))
    assert attempts.delay_after(_response(429, "6")) is None  # past the total budget
    assert attempts.delay_after(_response(429, "61")) is None  # not worth waiting for
    assert attempts.delay_after(_response(429, "4")) is not None


def test_retry_after_forms() -> None:
    assert retry_after_s(_response(429, "7")) == 7
    assert retry_after_s(_response(429, "Wed, 21 Oct 2015 07:28:00 GMT")) == 0
    assert retry_after_s(_response(429, "soon")) is None
    assert retry_after_s(_response(429)) is None
