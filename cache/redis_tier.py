"""Redis as a cache tier: one MGET per call, version-guarded writes, every error contained.

Every call runs under an overall deadline (a few ``redis_timeout_s``) on top
of the socket timeouts, reports to the circuit breaker, and turns any failure
into :class:`RedisUnavailable` (counted by kind). Fills are fire-and-forget:
queued, written in one pipeline per event-loop tick by a tracked task, their
failures counted, never raised into a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, TypeVar

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
)
from redis.exceptions import (
    MaxConnectionsError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    ResponseError,
)
from redis.exceptions import (
    TimeoutError as RedisTimeoutError,
)

from cache.breaker import Breaker
from cache.keyspace import FILL_MAX_PENDING, FILL_MAX_TASKS
from cache.metrics import CacheMetrics
from cache.redis_client import RedisClient, close_client

T = TypeVar("T")

REDIS_ERRORS = (RedisError, RedisClusterException, OSError, TimeoutError)
CAS_SCRIPT = (resources.files("cache") / "cas.lua").read_text("utf-8")
CAS_MANY_SCRIPT = (resources.files("cache") / "cas_many.lua").read_text("utf-8")
CAS_MANY_MAX = 500  # writes per cas_many.lua call (Redis runs a script alone: keep it short)

Write = tuple[str, bytes, int]  # key, value, TTL in ms (0: none)


class RedisUnavailable(Exception):
    """Redis did not answer (or the breaker is open); callers fall through to Postgres."""


def error_kind(e: BaseException) -> str:
    if isinstance(e, MaxConnectionsError) or "No connection available" in str(e):
        return "pool"
    if isinstance(e, RedisTimeoutError | TimeoutError):
        return "timeout"
    if isinstance(e, RedisConnectionError | OSError):
        return "connection"
    return "response"


class RedisTier:
    def __init__(
        self,
        client: RedisClient,
        *,
        breaker: Breaker,
        timeout_s: float,
        metrics: CacheMetrics | None = None,
    ) -> None:
        self.client = client
        self.breaker = breaker
        self._budget = timeout_s * 4  # pool wait + connect + write + read
        self._metrics = metrics
        # a standalone Redis takes a tick's writes in one cas_many.lua call (per 500); on a
        # cluster, the keys of one call must share a slot: cas.lua per key, routed by its key
        self._many = not isinstance(client, RedisCluster)
        self._script = CAS_MANY_SCRIPT if self._many else CAS_SCRIPT
        self._sha = client.register_script(self._script).sha
        self._fills: list[Write] = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------- reads

    async def mget(self, keys_: list[str]) -> list[bytes | None]:
        """One MGET (per slot on a cluster); RedisUnavailable also when the breaker is open."""
        if not self.breaker.allow():
            raise RedisUnavailable("breaker open")
        client = self.client
        if isinstance(client, RedisCluster):
            values = await self._guarded(lambda: client.mget_nonatomic(keys_))
        else:
            values = await self._guarded(lambda: client.mget(keys_))
        return [v if v is None or isinstance(v, bytes) else v.encode() for v in values]

    async def get(self, key: str) -> bytes | None:
        value = await self._guarded(lambda: self.client.get(key))
        return value if value is None or isinstance(value, bytes) else value.encode()

    # ------------------------------------------------------------ writes

    async def write(self, writes: list[Write]) -> list[bool]:
        """Version-guarded writes (``cas.lua``), pipelined; True where written."""
        return await self._guarded(lambda: self._cas(writes))

    def fill(self, key: str, value: bytes, ttl_ms: int) -> None:
        """Queue a version-guarded write; it leaves with the others of this tick."""
        if len(self._fills) >= FILL_MAX_PENDING:
            self._count_fills("dropped", 1)
            return
        self._fills.append((key, value, ttl_ms))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._fills = self._fills, []
        if not batch:
            return
        if len(self._tasks) >= FILL_MAX_TASKS or not self.breaker.allow():
            self._count_fills("dropped", len(batch))
            return
        task = asyncio.get_running_loop().create_task(self._write_fills(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_fills(self, batch: list[Write]) -> None:
        try:
            written = await self.write(batch)
        except RedisUnavailable:
            self._count_fills("failed", len(batch))
            return
        done = sum(written)
        self._count_fills("written", done)
        self._count_fills("refused", len(batch) - done)

    async def _cas(self, writes: list[Write]) -> list[bool]:
        results = await self._pipeline(writes)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:  # a restarted (or new) server: load the script, retry those once
            await self.client.script_load(self._script)
            retried = await self._pipeline([writes[i] for i in missing])
            for i, r in zip(missing, retried, strict=True):
                results[i] = r
        for r in results:
            if isinstance(r, Exception):
                raise r
        return [r == 1 for r in results]

    async def _pipeline(self, writes: list[Write]) -> list[Any]:
        """One reply per write: 1, 0, or the error of the command that carried it."""
        pipe = self.client.pipeline(transaction=False)
        if not self._many:
            for key, value, ttl_ms in writes:
                # execute_command: a cluster pipeline refuses .evalsha(), yet routes EVALSHA
                # by its key; NOSCRIPT is handled by _cas
                pipe.execute_command("EVALSHA", self._sha, 1, key, value, ttl_ms)
            results: list[Any] = await pipe.execute(raise_on_error=False)
            return results
        chunks = [writes[i : i + CAS_MANY_MAX] for i in range(0, len(writes), CAS_MANY_MAX)]
        for chunk in chunks:
            args: list[Any] = [key for key, _, _ in chunk]
            for _, value, ttl_ms in chunk:
                args += (value, ttl_ms)
            pipe.execute_command("EVALSHA", self._sha, len(chunk), *args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        out: list[Any] = []
        for chunk, reply in zip(chunks, replies, strict=True):
            if isinstance(reply, list) and len(reply) == len(chunk):
                out += reply
            elif isinstance(reply, Exception):
                out += [reply] * len(chunk)  # NOSCRIPT (retried by _cas) or another error
            else:
                out += [ResponseError("cas_many.lua: unexpected reply")] * len(chunk)
        return out

    # ------------------------------------------------------------ plumbing

    async def _guarded(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._budget):
                result = await call()
        except REDIS_ERRORS as e:
            kind = error_kind(e)
            if self._metrics is not None:
                self._metrics.redis_errors.labels(kind).inc()
            self.breaker.failure()
            raise RedisUnavailable(kind) from e
        except asyncio.CancelledError:
            self.breaker.abandon()
            raise
        self.breaker.success()
        return result

    def _count_fills(self, result: str, n: int) -> None:
        if self._metrics is not None and n:
            self._metrics.fills.labels(result).inc(n)

    async def drain(self) -> None:
        """Wait for the fills queued or in flight (tests, shutdown)."""
        while self._fills or self._flush_scheduled or self._tasks:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            else:
                await asyncio.sleep(0)

    async def aclose(self, wait_s: float = 1.0) -> None:
        try:
            async with asyncio.timeout(wait_s):
                await self.drain()
        except TimeoutError:
            for task in self._tasks:
                task.cancel()
        await close_client(self.client)
