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

import binascii
import hmac
from collections.abc import Callable, Mapping

from verify.adapters.gcra_batch import Buckets, Charge, ChargeBatcher
from verify.adapters.gcra_local import LocalLimiter
from verify.domain.gcra import Decision, Quota

KEY_VERSION = "v1"
LOCAL_MAX_KEYS = 100_000  # per-process fallback while Redis is down
KEY_MEMO_MAX = 100_000  # Redis keys of recent (agency, person) pairs, per process
_HMAC_BYTES = 16
_B64_CHARS = 22  # 16 bytes in base64, without its "==" padding
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def attempts_key(prefix: str, hmac_key: bytes, agency_id: int, id_number: str) -> str:
    message = f"attempts:{agency_id}:{id_number}".encode("ascii")
    mac = hmac.digest(hmac_key, message, "sha256")[:_HMAC_BYTES]  # one-shot: C all the way
    text = binascii.b2a_base64(mac, newline=False)[:_B64_CHARS].translate(_URLSAFE).decode()
    return f"{prefix}:pa:{KEY_VERSION}:{text}"


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
        # agency -> ID number -> its Redis key: a person verified again (a cached verify)
        # costs no HMAC; process memory only, as the register cache's, and bounded. Strings
        # only: a dict of them is not tracked by the garbage collector, however large
        self._keys: dict[int, dict[str, str]] = {}
        self._memo_size = 0

    def key_of(self, agency_id: int, id_number: str) -> str:
        keys = self._keys.get(agency_id)
        if keys is None:
            keys = self._keys[agency_id] = {}
        key = keys.get(id_number)
        if key is None:
            if self._memo_size >= KEY_MEMO_MAX:
                self._keys.clear()
                self._memo_size = 0
                keys = self._keys[agency_id] = {}
            key = keys[id_number] = attempts_key(self._prefix, self._hmac_key, agency_id, id_number)
            self._memo_size += 1
        return key

    async def spend(
        self, agency_id: int, costs: Mapping[str, int], quota: Quota
    ) -> dict[str, Decision]:
        if len(costs) == 1:  # a verify: one person, one attempt (mostly)
            [(subject, cost)] = costs.items()
            charge = Charge(self.key_of(agency_id, subject), quota, cost, True)
            return {subject: await self._buckets.charge_one(charge)}
        key_of = self.key_of
        charges = [
            Charge(key_of(agency_id, subject), quota, cost, True) for subject, cost in costs.items()
        ]
        decisions = await self._buckets.charge(charges)
        return dict(zip(costs, decisions, strict=True))
