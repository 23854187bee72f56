"""Use case: charge a request (or a batch's items) to its API key's rate limit, before its
body is read; cap the requests in progress per key."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterator

from verify.domain.gcra import MICROS, Limit
from verify.errors import RateLimited
from verify.service.auth import Principal
from verify.service.ports import Limiter


def limit_of(principal: Principal) -> Limit | None:
    if principal.rate_per_s is None:
        return None
    return _limit(principal.rate_per_s, principal.burst)


@functools.lru_cache(maxsize=1024)
def _limit(rate_per_s: int, burst: int | None) -> Limit:
    """One ``Limit`` object per rate and burst: a request allocates none, and the limiter
    finds its key's limit unchanged by identity (``gcra_lease``)."""
    return Limit(rate_per_s, burst or 2 * rate_per_s)


def charged_now(principal: Principal, cost: int, limiter: Limiter) -> bool:
    """True: nothing to charge, or charged from the tokens this process holds, with no await
    (a busy key's requests); False: nothing was charged, ``charge_rest`` must be awaited."""
    rate = principal.rate_per_s
    if rate is None or cost <= 0:
        return True
    return limiter.take(principal.key_id, _limit(rate, principal.burst), cost)


async def charge(principal: Principal, cost: int, limiter: Limiter) -> None:
    """Raise RateLimited (with the seconds to wait) when the key is over its limit."""
    if not charged_now(principal, cost, limiter):
        await charge_rest(principal, cost, limiter)


async def charge_rest(principal: Principal, cost: int, limiter: Limiter) -> None:
    """``charge`` once ``charged_now`` said False: the key's shared bucket decides."""
    rate = principal.rate_per_s
    assert rate is not None
    limit = _limit(rate, principal.burst)
    decision = await limiter.charge(principal.key_id, limit, cost)
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


# A lower bound of the items in a body of a given size, so that a batch is charged
# before its body is read: no item is larger than this once encoded (a claim is
# ~30-300 bytes), so ``length // ITEM_BYTES_BOUND`` items at least are in the body.
ITEM_BYTES_BOUND = 1024


def items_at_least(content_length: int | None, max_items: int) -> int:
    """The items a body of ``content_length`` bytes holds at least (1 when unknown)."""
    if not content_length:
        return 1
    return max(1, min(max_items, content_length // ITEM_BYTES_BOUND))


class KeyConcurrency:
    """Requests in progress per API key in this process, capped: one key cannot take
    every connection, task and pool slot of an instance (streams hold theirs for long)."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._held: dict[str, int] = {}

    @contextlib.contextmanager
    def hold(self, key_id: str) -> Iterator[None]:
        self.enter(key_id)
        try:
            yield
        finally:
            self.leave(key_id)

    def enter(self, key_id: str) -> None:
        """``hold`` without a context manager (the per-request path: no generator frame);
        every ``enter`` that returned needs its ``leave``."""
        held = self._held.get(key_id, 0)
        if held >= self._cap:
            raise RateLimited(
                f"at most {self._cap} requests in progress per API key", retry_after=1.0
            )
        self._held[key_id] = held + 1

    def leave(self, key_id: str) -> None:
        left = self._held[key_id] - 1
        if left:
            self._held[key_id] = left
        else:
            del self._held[key_id]

    def held(self, key_id: str) -> int:
        return self._held.get(key_id, 0)
