"""Per-agency rate limits, shared by every instance through one atomic Redis script.

A key's charge joins the others of its event-loop tick (``gcra_batch.py``): one
Redis round trip for all of them. While Redis fails (or its breaker is open) a
per-instance limiter with the same rule applies instead of none.

The batcher (its Redis client, breaker and deadline) is handed in by the
composition root; the key of an API key's state is ``{prefix}:rl:v1:{key_id}``
(a key id, not personal data), under the same prefix as the cache's keys
(``cache/keyspace.py``).

This is the exact path, one charge per request; ``gcra_lease.py`` puts token leases
in front of it (the limiter the composition root hands to HTTP).
"""

from __future__ import annotations

from collections.abc import Callable

from verify.adapters.gcra_batch import Buckets, Charge, ChargeBatcher
from verify.adapters.gcra_local import LocalLimiter
from verify.domain.gcra import Decision, Limit

KEY_VERSION = "v1"


class RateLimiter:
    def __init__(
        self,
        batcher: ChargeBatcher | None,
        *,
        prefix: str,
        local: LocalLimiter | None = None,
        on_fallback: Callable[[int], None] | None = None,
    ) -> None:
        self._prefix = f"{prefix}:rl:{KEY_VERSION}:"
        self._buckets = Buckets(batcher, local=local or LocalLimiter(), on_fallback=on_fallback)

    def key_of(self, key_id: str) -> str:
        """The Redis key of an API key's bucket (its leases charge the same one)."""
        return self._prefix + key_id

    def take(self, key_id: str, limit: Limit, cost: int) -> bool:
        return False  # holds no tokens: every request is charged

    async def check(self, key_id: str, limit: Limit, cost: int) -> Decision:
        return await self._buckets.charge_one(Charge(self._prefix + key_id, limit, cost, False))

    charge = check
