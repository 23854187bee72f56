"""Per-agency rate limits, shared by every instance through one atomic Redis script.

While Redis fails (or its breaker is open) a per-instance limiter with the same
rule applies instead of none; Redis calls are bounded by the Redis timeout.

The Redis client and the circuit breaker are handed in (the composition root
makes them with the cache's client factory and breaker); the key of an API
key's state is ``{prefix}:rl:v1:{key_id}`` (a key id, not personal data), under
the same prefix as the cache's keys (``cache/keyspace.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from importlib import resources
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from verify.domain.gcra import MICROS, Decision, Limit, decide

REDIS_ERRORS = (RedisError, RedisClusterException, OSError, TimeoutError)
KEY_VERSION = "v1"


class CircuitBreaker(Protocol):
    """Stops calling a failing Redis for a while (``cache.breaker.Breaker``)."""

    def allow(self) -> bool: ...

    def success(self) -> None: ...

    def failure(self) -> None: ...

    def abandon(self) -> None: ...


def _script_source() -> str:
    return (resources.files("verify.adapters") / "gcra.lua").read_text("utf-8")


_LOCAL_MAX_KEYS = 10_000


class LocalLimiter:
    """The same GCRA in process memory (Redis down, or no Redis at all)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tat: OrderedDict[str, int] = OrderedDict()

    def check(self, key: str, limit: Limit, cost: int) -> Decision:
        now = int(self._clock() * MICROS)
        decision = decide(self._tat.get(key), now, limit, cost)
        if decision.allowed:
            self._tat[key] = decision.tat_us
            self._tat.move_to_end(key)
            if len(self._tat) > _LOCAL_MAX_KEYS:
                self._tat.popitem(last=False)
        return decision


class RateLimiter:
    def __init__(
        self,
        client: Redis | RedisCluster | None,
        *,
        prefix: str,
        breaker: CircuitBreaker,
        local: LocalLimiter | None = None,
        on_fallback: Callable[[], None] | None = None,
        deadline_s: float = 0.2,
    ) -> None:
        self._client = client
        self._prefix = f"{prefix}:rl:{KEY_VERSION}:"
        self._breaker = breaker
        self._local = local or LocalLimiter()
        self._on_fallback = on_fallback
        self._deadline_s = deadline_s  # whole call, over the client's socket timeouts
        self._script = client.register_script(_script_source()) if client is not None else None

    async def check(self, key_id: str, limit: Limit, cost: int) -> Decision:
        if self._script is not None and self._breaker.allow():
            try:
                async with asyncio.timeout(self._deadline_s):
                    allowed, retry_us = await self._script(
                        keys=[self._prefix + key_id],
                        args=[limit.interval_us, limit.burst, cost],
                    )
            except REDIS_ERRORS:
                self._breaker.failure()
            except asyncio.CancelledError:
                self._breaker.abandon()  # not Redis's fault: free a half-open probe
                raise
            else:
                self._breaker.success()
                return Decision(bool(allowed), 0, int(retry_us))
        if self._on_fallback is not None:
            self._on_fallback()
        return self._local.check(key_id, limit, cost)
