"""Use case: charge a request (or a batch's items) to its API key's rate limit."""

from __future__ import annotations

import asyncio

from verify.domain.gcra import MICROS, Limit
from verify.errors import RateLimited
from verify.service.auth import Principal
from verify.service.ports import Limiter


def limit_of(principal: Principal) -> Limit | None:
    if principal.rate_per_s is None:
        return None
    return Limit(principal.rate_per_s, principal.burst or 2 * principal.rate_per_s)


async def charge(principal: Principal, cost: int, limiter: Limiter) -> None:
    """Raise RateLimited (with the seconds to wait) when the key is over its limit."""
    limit = limit_of(principal)
    if limit is None or cost <= 0:
        return
    decision = await limiter.check(principal.key_id, limit, cost)
    if not decision.allowed:
        raise RateLimited(
            f"over the rate limit of {limit.rate_per_s}/s (burst {limit.burst})",
            retry_after=decision.retry_after_us / MICROS,
        )


async def pace(principal: Principal, cost: int, limiter: Limiter, *, max_wait_s: float) -> None:
    """Wait until the key may spend ``cost`` (streams are slowed down, not refused).

    Raises RateLimited when the wait would exceed ``max_wait_s``.
    """
    limit = limit_of(principal)
    if limit is None or cost <= 0:
        return
    waited = 0.0
    while True:
        decision = await limiter.check(principal.key_id, limit, cost)
        if decision.allowed:
            return
        delay = decision.retry_after_us / MICROS
        if waited + delay > max_wait_s:
            raise RateLimited("the stream is over its rate limit", retry_after=delay)
        await asyncio.sleep(delay)
        waited += delay
