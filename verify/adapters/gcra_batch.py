"""GCRA charges coalesced: one Redis round trip for all the charges of a tick, one in flight.

Every charge asked for by any coroutine during one tick (rate limits of requests,
the probing limit's per-person charges) is queued; at the end of the tick one
task (the pump) sends them all, in order, as one call of ``send`` (``gcra_redis.py``:
one EVALSHA of ``gcra_many.lua``), split in chunks of at most ``max_batch`` charges.
While that round trip is in flight the charges of later ticks gather, and go as the
next call as soon as it is back: one round trip in flight per process, so a busy
process makes fewer, fuller calls (Redis's CPU and ours are mostly per call, not per
charge). A batch's deadline runs from its first charge, so a charge waiting behind a
stalled call still waits one deadline at most, not two. A single charge (a verify's, or a
lease's: ``enqueue_one``) has ``deadline_s``; a batch holding a list of charges (a bulk
request's: ``charge``) waits up to ``bulk_deadline_s``, longer: a process busy with bulk
work can take longer than a verify's deadline to read a reply that came back in time,
and a limit decided locally is a limit per process. A bulk batch sends its single charges
apart, under their own deadline; while a batch waits behind a bulk round trip in flight, a
timer answers its single charges at their deadline (None: decided locally), and those
are then not sent; a single charge joining after that is answered at once. (Behind a
round trip of single charges no timer is needed: that one's deadline comes first.) A chunk reports
once to the circuit breaker, not once per caller. Each caller waits on a future of its own while
the batch runs in the pump: one giving up (its request cancelled) does not cancel the
batch for the others.

``Buckets`` is the one place that says "Redis under a deadline with the breaker,
else local": a charge Redis did not decide (it failed, timed out, or the breaker
is open) is decided by a per-process ``LocalLimiter`` with the same rule, and the
caller's ``on_fallback`` hook is told how many charges were (an operator's signal that
the limits are per process for now: ``verify_limiter_local_decisions_total``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, Protocol

from redis.exceptions import RedisClusterException, RedisError

from verify.adapters.gcra_local import LocalLimiter
from verify.domain.gcra import Decision, Rule

log = logging.getLogger("verify.limits")

REDIS_ERRORS = (RedisError, RedisClusterException, OSError, TimeoutError)
MAX_BATCH = 1_000  # charges per round trip: bounds the script's run time (Redis is blocked)
# how long a batch with bulk charges in it waits for Redis (`verify serve`, `verify worker`):
# a 1,000-item batch answers in about half a second under load; a verify's is far shorter
BULK_DEADLINE_S = 1.0


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
# a caller's future (its replies, or its one reply) and how many of the batch's charges are its
Waiters = list[tuple["asyncio.Future[Any]", int]]


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
        bulk_deadline_s: float | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._send = send
        self._breaker = breaker
        self._deadline_s = deadline_s  # a whole round trip (the send has no timer of its own)
        # a batch with a list of charges in it (bulk work): at least the single charges' one
        self._bulk_deadline_s = max(deadline_s, bulk_deadline_s or 0.0)
        self._max_batch = max_batch
        # the batch being gathered, flat: its charges, and per caller its future and how many
        # of the charges are its own (ONE: a single charge, answered bare); since when;
        # whether a list of charges is in it. When bulk batches wait longer: since when it has
        # single charges, the timer answering them at their deadline while the batch waits
        # behind a bulk round trip in flight, and whether it has
        self._charges: list[Charge] = []
        self._waiters: Waiters = []
        self._since = 0.0
        self._bulk = False
        self._single_since = -1.0  # none yet
        self._expiry: asyncio.TimerHandle | None = None
        self._expired = False
        self._bulk_in_flight = False  # the round trip in flight is a bulk batch's
        self._pump: asyncio.Task[None] | None = None  # sends the batches, one at a time

    async def charge(self, charges: Sequence[Charge]) -> Replies:
        """A decision per charge, in order; None where Redis did not decide."""
        if not charges:
            return []
        future: asyncio.Future[Replies] = asyncio.get_running_loop().create_future()
        self._charges += charges
        self._waiters.append((future, len(charges)))
        self._bulk = True
        if len(self._waiters) == 1:
            self._opened()
        # no shield needed: the future is this caller's alone (the batch is a task of its own),
        # so a caller giving up cancels its future, never the batch of the others
        return await future

    async def charge_one(self, charge: Charge) -> Decision | None:
        """``charge([charge])[0]`` without the lists: a verify's one charge."""
        return await self.enqueue_one(charge)

    def enqueue_one(self, charge: Charge) -> asyncio.Future[Decision | None]:
        """``charge_one`` as the future to await (one coroutine fewer on the verify path)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision | None] = loop.create_future()
        if self._expired:  # this batch's single charges are past their deadline: local now
            future.set_result(None)
            return future
        self._charges.append(charge)
        self._waiters.append((future, ONE))
        if len(self._waiters) == 1:
            self._opened()
        if self._single_since < 0 and self._bulk_deadline_s > self._deadline_s:
            self._single_since = since = loop.time()
            # behind a bulk round trip, the wait may outlast this charge's deadline (behind a
            # single one it cannot: that round trip's deadline comes first)
            if self._bulk_in_flight:
                self._expiry = loop.call_at(since + self._deadline_s, self._expire)
        return future

    def _expire(self) -> None:
        """The gathered batch's single charges reached their deadline before it was sent:
        answered None (decided locally), and not sent when it is."""
        self._expired = True
        _expire_single(self._waiters)

    def _opened(self) -> None:
        """A new batch's first charge: note when (its deadline runs from then), and start
        the pump unless it runs. Its first step comes once this tick's callbacks have run, so
        every charge of the tick joins; a pump already running sends the batch as soon as
        its round trip in flight is back."""
        loop = asyncio.get_running_loop()
        self._since = loop.time()
        if self._pump is None:
            self._pump = loop.create_task(self._run())
            self._pump.add_done_callback(self._stopped)

    def _stopped(self, task: asyncio.Task[None]) -> None:
        """No caller waits forever: a pump cancelled (shutdown) leaves its batches to local.
        (A pump done with every batch has already said so: a later one may run by now.)"""
        if self._pump is not task:
            return
        self._pump = None
        charges, waiters, self._charges, self._waiters = self._charges, self._waiters, [], []
        if self._expiry is not None:
            self._expiry.cancel()
        self._bulk, self._expiry, self._expired = False, None, False
        self._single_since, self._bulk_in_flight = -1.0, False
        _answer(waiters, [None] * len(charges))

    async def _run(self) -> None:
        """Send the gathered batch, then the one gathered meanwhile, until none is left: one
        round trip in flight at a time, so that the charges of the ticks it spans share the
        next one (fewer, fuller round trips: Redis's cost is mostly per call)."""
        while self._waiters:
            charges, waiters, since = self._charges, self._waiters, self._since
            bulk, single_since = self._bulk, self._single_since
            expiry, expired = self._expiry, self._expired
            self._charges, self._waiters = [], []
            self._bulk, self._expiry, self._expired = False, None, False
            self._single_since, self._bulk_in_flight = -1.0, bulk
            if expiry is not None:  # its single charges are sent under their own deadline
                expiry.cancel()
            if expired:  # answered already: decided locally, never charged in Redis too
                charges, waiters = _unanswered(charges, waiters)
            replies: Replies = []
            try:
                if not charges:
                    pass  # every one answered at its deadline already
                elif bulk and self._bulk_deadline_s > self._deadline_s:
                    replies = await self._decide_mixed(
                        charges, waiters, single_since + self._deadline_s,
                        since + self._bulk_deadline_s,
                    )  # fmt: skip
                else:
                    replies = await self._decide_all(charges, since + self._deadline_s)
            finally:  # every caller gets its answers, also when the batch is cancelled
                _answer(waiters, replies or [None] * len(charges))
        self._pump, self._bulk_in_flight = None, False

    async def _decide_mixed(
        self, charges: list[Charge], waiters: Waiters, single_deadline: float, deadline: float
    ) -> Replies:
        """A bulk batch: its single charges and its lists as two sends at once, each under
        its own deadline, and the single charges answered as soon as theirs is back (in a
        bulk send they would wait the bulk deadline, and be charged in Redis after their
        callers were answered locally)."""
        singles: list[int] = []  # the single charges' positions in ``charges``
        single_waiters: list[asyncio.Future[Any]] = []
        at = 0
        for future, count in waiters:
            if count == ONE:
                singles.append(at)
                single_waiters.append(future)
                at += 1
            else:
                at += count
        if not singles:
            return await self._decide_all(charges, deadline)

        async def decide_singles() -> Replies:
            replies = await self._decide_all([charges[i] for i in singles], single_deadline)
            for future, reply in zip(single_waiters, replies, strict=True):
                if not future.done():
                    future.set_result(reply)
            return replies

        single = set(singles)
        lists = [i for i in range(len(charges)) if i not in single]
        one, many = await asyncio.gather(
            decide_singles(), self._decide_all([charges[i] for i in lists], deadline)
        )
        replies: Replies = [None] * len(charges)
        for i, reply in zip(singles, one, strict=True):
            replies[i] = reply
        for i, reply in zip(lists, many, strict=True):
            replies[i] = reply
        return replies

    async def _decide_all(self, charges: list[Charge], deadline: float) -> Replies:
        size = self._max_batch
        if len(charges) <= size:
            return await self._decide(charges, deadline)
        chunks = await asyncio.gather(
            *(self._decide(charges[i : i + size], deadline) for i in range(0, len(charges), size))
        )
        return [reply for chunk in chunks for reply in chunk]

    async def _decide(self, chunk: list[Charge], deadline: float) -> Replies:
        """A reply per charge of ``chunk``: all None unless Redis decided them by ``deadline``
        (loop time: the deadline of the batch's first charge, which may have waited for the
        round trip before it)."""
        size = len(chunk)
        if deadline <= asyncio.get_running_loop().time():  # spent behind a stalled call:
            return [None] * size  # not sent (that call told the breaker already)
        if not self._breaker.allow():
            return [None] * size
        try:
            async with asyncio.timeout_at(deadline):
                flat = await self._send(chunk)
        except asyncio.CancelledError:
            self._breaker.abandon()  # not Redis's fault: free a half-open probe
            raise
        except REDIS_ERRORS:
            self._breaker.failure()
            return [None] * size
        except Exception:  # a bug, not Redis: say so loudly, but keep limiting (locally)
            log.exception("limiter batch failed")
            self._breaker.failure()
            return [None] * size
        replies: Replies = [ALLOWED] * size
        if flat:  # refusals: index, wait, ...
            if len(flat) % 2 or any(not 0 <= i < size for i in flat[::2]):
                log.error("limiter script answered %d values for %d charges", len(flat), size)
                self._breaker.failure()
                return [None] * size
            for n in range(0, len(flat), 2):
                replies[flat[n]] = Decision(False, 0, int(flat[n + 1]))
        self._breaker.success()
        return replies

    async def aclose(self) -> None:
        """Wait for the batches queued or in flight (each bounded by the deadline)."""
        while self._pump is not None:
            await asyncio.gather(self._pump, return_exceptions=True)


ONE = 0  # a waiter of one charge, answered with its reply rather than a list


def _unanswered(charges: list[Charge], waiters: Waiters) -> tuple[list[Charge], Waiters]:
    """A batch's charges and waiters without its single charges already answered (at their
    deadline, or their caller gone): those were decided locally, if at all."""
    kept_charges: list[Charge] = []
    kept_waiters: Waiters = []
    start = 0
    for future, count in waiters:
        end = start + (1 if count == ONE else count)
        if count != ONE or not future.done():
            kept_charges += charges[start:end]
            kept_waiters.append((future, count))
        start = end
    return kept_charges, kept_waiters


def _expire_single(waiters: Waiters) -> None:
    """The single charges still waiting at their deadline: Redis did not decide them."""
    for future, count in waiters:
        if count == ONE and not future.done():
            future.set_result(None)


def _answer(waiters: Waiters, replies: Replies) -> None:
    """Hand each waiter not yet answered (or gone) its replies, in order."""
    start = 0
    for future, count in waiters:
        if count == ONE:
            if not future.done():
                future.set_result(replies[start])
            start += 1
        else:
            end = start + count
            if not future.done():
                future.set_result(replies[start:end])
            start = end


class Buckets:
    """GCRA buckets in Redis through a batcher, else (or without Redis) in process memory."""

    def __init__(
        self,
        batcher: ChargeBatcher | None,
        *,
        local: LocalLimiter,
        on_fallback: Callable[[int], None] | None = None,
    ) -> None:
        self._batcher = batcher
        self._local = local
        self._on_fallback = on_fallback

    async def charge_one(self, charge: Charge) -> Decision:
        """``charge([charge])[0]``, the shortest way: a verify's one charge."""
        batcher = self._batcher
        reply = None if batcher is None else await batcher.enqueue_one(charge)
        if reply is None:
            reply = self._local.check(charge.key, charge.rule, charge.cost, strict=charge.strict)
            if self._on_fallback is not None:
                self._on_fallback(1)
        return reply

    async def charge(self, charges: Sequence[Charge]) -> list[Decision]:
        """A decision per charge, in order."""
        if self._batcher is not None:
            replies = await self._batcher.charge(charges)
        else:
            replies = [None] * len(charges)
        decisions: list[Decision] = []
        fell_back = 0
        local = self._local
        for (key, rule, cost, strict), reply in zip(charges, replies, strict=True):
            if reply is None:
                fell_back += 1
                reply = local.check(key, rule, cost, strict=strict)
            decisions.append(reply)
        if fell_back and self._on_fallback is not None:
            self._on_fallback(fell_back)
        return decisions
