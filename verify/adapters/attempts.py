"""The probing limit's counters in Redis (one GCRA key per agency and person, by HMAC).

All subjects of a request are charged in one pipeline (standalone Redis: the
script by SHA, loaded on first use; a cluster: EVAL, routed by each key's slot,
one key per call, so the script is cluster-safe). While Redis fails (or its
breaker is open) a per-process limiter with the same rule applies instead of
none: with N instances an agency then gets at most N times the quota.

A person's key is ``{prefix}:pa:v1:{HMAC-SHA256(hmac_key, "attempts:" + agency id
+ ":" + ID number)}`` (128 bits, base64url): never the number in clear. It expires
by itself once its bucket is full again (at most a day after the last attempt).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from verify.adapters.ratelimit import (
    KEY_VERSION,
    REDIS_ERRORS,
    CircuitBreaker,
    LocalLimiter,
    script_source,
)
from verify.domain.gcra import Decision, Quota

STRICT = 1  # the script's strict flag: the whole cost must fit
LOCAL_MAX_KEYS = 100_000  # per-process fallback while Redis is down
_HMAC_BYTES = 16
RedisClient = Redis | RedisCluster


def attempts_key(prefix: str, hmac_key: bytes, agency_id: int, id_number: str) -> str:
    message = f"attempts:{agency_id}:{id_number}".encode("ascii")
    mac = hmac.new(hmac_key, message, hashlib.sha256).digest()[:_HMAC_BYTES]
    return f"{prefix}:pa:{KEY_VERSION}:{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


class RedisAttemptLimiter:
    def __init__(
        self,
        client: RedisClient | None,
        *,
        prefix: str,
        hmac_key: bytes,
        breaker: CircuitBreaker,
        local: LocalLimiter | None = None,
        on_fallback: Callable[[], None] | None = None,
        deadline_s: float = 0.2,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._hmac_key = hmac_key
        self._breaker = breaker
        self._local = local or LocalLimiter(max_keys=LOCAL_MAX_KEYS)
        self._on_fallback = on_fallback
        self._deadline_s = deadline_s
        self._source = script_source()
        self._script = client.register_script(self._source) if client is not None else None

    async def spend(
        self, agency_id: int, costs: Mapping[str, int], quota: Quota
    ) -> dict[str, Decision]:
        keys = {
            subject: attempts_key(self._prefix, self._hmac_key, agency_id, subject)
            for subject in costs
        }
        if self._client is not None and self._breaker.allow():
            try:
                async with asyncio.timeout(self._deadline_s):
                    replies = await self._pipeline(self._client, keys, costs, quota)
            except REDIS_ERRORS:
                self._breaker.failure()
            except asyncio.CancelledError:
                self._breaker.abandon()
                raise
            else:
                self._breaker.success()
                return {
                    subject: Decision(bool(allowed), 0, int(retry_us))
                    for subject, (allowed, retry_us) in zip(keys, replies, strict=True)
                }
        if self._on_fallback is not None:
            self._on_fallback()
        return {
            subject: self._local.check(key, quota, costs[subject], strict=True)
            for subject, key in keys.items()
        }

    async def _pipeline(
        self, client: RedisClient, keys: Mapping[str, str], costs: Mapping[str, int], quota: Quota
    ) -> list[list[int]]:
        # the context resets the pipeline (returns its connection) even when cancelled
        async with client.pipeline(transaction=False) as pipe:
            for subject, key in keys.items():
                args = [quota.interval_us, quota.burst, costs[subject], STRICT]
                if isinstance(client, RedisCluster):
                    pipe.eval(self._source, 1, key, *args)
                else:
                    assert self._script is not None
                    # redis-py's hint omits pipelines; its code queues EVALSHA on one
                    await self._script(keys=[key], args=args, client=pipe)  # type: ignore[arg-type]
            replies: list[list[int]] = await pipe.execute()
        return replies
