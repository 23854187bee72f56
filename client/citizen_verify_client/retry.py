"""Retry policy: exponential backoff with full jitter, honouring ``Retry-After``.

Only answers that say "try again" are retried: 429 (rate limited) and 503
(overloaded, timeout, database unavailable), and transport failures (refused
connection, timeouts, a connection cut mid-answer). Attempts and the total
time spent are both bounded.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field

import httpx

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries in all, the first included
    backoff_s: float = 0.2  # first backoff ceiling; doubles per retry
    max_backoff_s: float = 10.0  # ceiling of one backoff without Retry-After
    max_retry_after_s: float = 60.0  # a longer Retry-After is not waited for
    total_s: float = 120.0  # no retry starts after this much time in all

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^retry)]."""
        return rng.uniform(0, min(self.max_backoff_s, self.backoff_s * 2**retry))


NO_RETRY = RetryPolicy(attempts=1)


def retry_after_s(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class Attempts:
    """The retry state of one logical request (all its attempts share one request id)."""

    policy: RetryPolicy
    rng: random.Random = field(default_factory=random.Random)
    started: float = field(default_factory=time.monotonic)
    retries: int = 0

    def delay_after(self, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next attempt, or None to give up.

        ``response`` is the failed answer, or None for a transport failure.
        """
        if response is not None and response.status_code not in RETRY_STATUSES:
            return None
        if self.retries + 1 >= self.policy.attempts:
            return None
        jitter = self.policy.backoff(self.retries, self.rng)
        told = retry_after_s(response) if response is not None else None
        if told is not None:
            if told > self.policy.max_retry_after_s:
                return None
            # the server's wait, spread a little so that refused clients do not return together
            delay = told + jitter * 0.1
        else:
            delay = jitter
        if time.monotonic() - self.started + delay > self.policy.total_s:
            return None
        self.retries += 1
        return delay
