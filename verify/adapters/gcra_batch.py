"""GCRA charges coalesced per event-loop tick: one Redis round trip for all of a tick's callers.

Every charge asked for by any coroutine during one tick (rate limits of requests,
the probing limit's per-person charges) is queued; at the end of the tick one
task sends them all, in order, as one call of ``send`` (``gcra_redis.py``: one
EVALSHA of ``gcra_many.lua``), split in chunks of at most ``max_batch`` charges.
A chunk runs under one deadline and reports once to the circuit breaker, not once
per caller. Each caller waits on a future of its own while the batch runs in its
own task: one giving up (its request cancelled) does not cancel the batch for the
others.

``Buckets`` is the one place that says "Redis under a deadline with the breaker,
else local": a charge Redis did not decide (it failed, timed out, or the breaker
is open) is decided by a per-process ``LocalLimiter`` with the same rule, and the
caller's ``on_fallback`` hook is told.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple, Protocol

from redis.exceptions import RedisClusterException, RedisError

from verify.adapters.gcra_local import LocalLimiter
from verify.domain.gcra import Decision, Rule

log = logging.getLogger("verify.limits")

REDIS_ERRORS = (RedisError, RedisClusterException, OSError, TimeoutError)
MAX_BATCH = 1_000  # charges per round trip: bounds the script's run time (Redis is blocked)


class Charge(NamedTuple):
    key: str  # the bucket's Redis key
    rule: Rule
    cost: int
    strict: bool  # the whole cost must fit (the probing limit)


# one call: the charges in order -> the refused ones, flat [index, retry_after_us, ...]
# (index from 0 in the call's charges); every charge not named was allowed
Send = Callable[[Sequence[Charge]], Awaitable[Sequence[int]]]
ALLOWED = Decision(True, 0)  # what Redis answers of an allowed charge (its state stays there)
Replies = list[Decision | None]  # None: Redis did not decide this charge
Waiter = asyncio.Future[Replies]


class CircuitBreaker(Protocol):
    """Stops calling a failing Redis for a while (``cache.breaker.Breaker``)."""

    def allow(self) -> bool: ...

    def success(self) -> None: ...

    def failure(self) -> None: ...

    def abandon(self) -> None: ...


class ChargeBatcher:
    def __init__(
        self,
        send: Send,
        *,
        breaker: CircuitBreaker,
        deadline_s: float,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._send = send
        self._breaker = breaker
        self._deadline_s = deadline_s  # a whole round trip, over the client's socket timeouts
        self._max_batch = max_batch
        self._pending: list[tuple[Sequence[Charge], Waiter]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def charge(self, charges: Sequence[Charge]) -> Replies:
        """A decision per charge, in order; None where Redis did not decide."""
        if not charges:
            return []
        loop = asyncio.get_running_loop()
        future: Waiter = loop.create_future()
        self._pending.append((charges, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._dispatch)
        # no shield needed: the future is this caller's alone (the batch is a task of its own),
        # so a caller giving up cancels its future, never the batch of the others
        return await future

    def _dispatch(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._run(pending))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._settle(done, pending))

    def _settle(
        self, task: asyncio.Task[None], pending: list[tuple[Sequence[Charge], Waiter]]
    ) -> None:
        """No caller waits forever: a batch cancelled before it ran leaves all to local."""
        self._tasks.discard(task)
        for some, future in pending:
            if not future.done():
                future.set_result([None] * len(some))

    async def _run(self, pending: list[tuple[Sequence[Charge], Waiter]]) -> None:
        charges = [charge for some, _ in pending for charge in some]
        replies: Replies = [None] * len(charges)
        size = self._max_batch
        try:
            if len(charges) <= size:
                await self._send_chunk(charges, replies, 0)
            else:
                chunks = range(0, len(charges), size)
                await asyncio.gather(
                    *(self._send_chunk(charges[i : i + size], replies, i) for i in chunks)
                )
        finally:  # every caller gets its answers, also when the batch is cancelled (shutdown)
            start = 0
            for some, future in pending:
                end = start + len(some)
                if not future.done():
                    future.set_result(replies[start:end])
                start = end

    async def _send_chunk(self, chunk: list[Charge], replies: Replies, offset: int) -> None:
        if not self._breaker.allow():
            return
        try:
            async with asyncio.timeout(self._deadline_s):
                flat = await self._send(chunk)
        except asyncio.CancelledError:
            self._breaker.abandon()  # not Redis's fault: free a half-open probe
            raise
        except REDIS_ERRORS:
            self._breaker.failure()
            return
        except Exception:  # a bug, not Redis: say so loudly, but keep limiting (locally)
            log.exception("limiter batch failed")
            self._breaker.failure()
            return
        size = len(chunk)
        if len(flat) % 2 or any(not 0 <= i < size for i in flat[::2]):
            log.error("limiter script answered %d values for %d charges", len(flat), size)
            self._breaker.failure()
            return
        self._breaker.success()
        replies[offset : offset + size] = [ALLOWED] * size
        for n in range(0, len(flat), 2):
            replies[offset + flat[n]] = Decision(False, 0, int(flat[n + 1]))

    async def aclose(self) -> None:
        """Wait for the batches queued or in flight (each bounded by the deadline)."""
        while self._scheduled or self._tasks:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            else:
                await asyncio.sleep(0)


class Buckets:
    """GCRA buckets in Redis through a batcher, else (or without Redis) in process memory."""

    def __init__(
        self,
        batcher: ChargeBatcher | None,
        *,
        local: LocalLimiter,
        on_fallback: Callable[[], None] | None = None,
    ) -> None:
        self._batcher = batcher
        self._local = local
        self._on_fallback = on_fallback

    async def charge(self, charges: Sequence[Charge]) -> list[Decision]:
        """A decision per charge, in order."""
        if self._batcher is not None:
            replies = await self._batcher.charge(charges)
        else:
            replies = [None] * len(charges)
        decisions: list[Decision] = []
        fell_back = False
        local = self._local
        for (key, rule, cost, strict), reply in zip(charges, replies, strict=True):
            if reply is None:
                fell_back = True
                reply = local.check(key, rule, cost, strict=strict)
            decisions.append(reply)
        if fell_back and self._on_fallback is not None:
            self._on_fallback()
        return decisions
