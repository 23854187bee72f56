"""The probing limit's counters in Redis (one GCRA key per agency and person, by HMAC).

All subjects of a request are charged together, and with every other charge of
the same event-loop tick (``gcra_batch.py``: one Redis round trip; on a cluster,
grouped by slot, ``gcra_redis.py``). The rule is strict: a batch of guesses on
one person is refused as a whole unless its whole cost fits. While Redis fails
(or its breaker is open) a per-process limiter with the same rule applies instead
of none: with N instances an agency then gets at most N times the quota.

A person's key is ``{prefix}:pa:v1:{HMAC-SHA256(hmac_key, "attempts:" + agency id
+ ":" + ID number)}`` (128 bits, base64url): never the number in clear. It expires
by itself once its bucket is full again (at most a day after the last attempt).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping

from verify.adapters.gcra_batch import Buckets, Charge, ChargeBatcher
from verify.adapters.gcra_local import LocalLimiter
from verify.domain.gcra import Decision, Quota

KEY_VERSION = "v1"
LOCAL_MAX_KEYS = 100_000  # per-process fallback while Redis is down
_HMAC_BYTES = 16


def attempts_key(prefix: str, hmac_key: bytes, agency_id: int, id_number: str) -> str:
    message = f"attempts:{agency_id}:{id_number}".encode("ascii")
    mac = hmac.new(hmac_key, message, hashlib.sha256).digest()[:_HMAC_BYTES]
    return f"{prefix}:pa:{KEY_VERSION}:{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


class RedisAttemptLimiter:
    def __init__(
        self,
        batcher: ChargeBatcher | None,
        *,
        prefix: str,
        hmac_key: bytes,
        local: LocalLimiter | None = None,
        on_fallback: Callable[[], None] | None = None,
    ) -> None:
        self._prefix = prefix
        self._hmac_key = hmac_key
        local = local or LocalLimiter(max_keys=LOCAL_MAX_KEYS)
        self._buckets = Buckets(batcher, local=local, on_fallback=on_fallback)

    async def spend(
        self, agency_id: int, costs: Mapping[str, int], quota: Quota
    ) -> dict[str, Decision]:
        prefix, hmac_key = self._prefix, self._hmac_key
        charges = [
            Charge(attempts_key(prefix, hmac_key, agency_id, subject), quota, cost, True)
            for subject, cost in costs.items()
        ]
        decisions = await self._buckets.charge(charges)
        return dict(zip(costs, decisions, strict=True))
