"""Admission control: bound the time a request waits, not the number of requests.

A process admits up to ``limit`` requests at once; the rest wait in a queue of
their lane (interactive: single verifies, lookups; bulk: batches, streams,
jobs). Overload is detected the way CoDel watches a router's queue (Nichols and
Jacobson; Facebook's "adaptive LIFO + CoDel" for RPC servers), on the
interactive lane only:

- every ``interval`` the smallest sojourn (time spent waiting) of an interactive
  request seen in that interval is compared with ``target``. A standing queue (the
  smallest wait of a whole interval above the target) means overload; an empty
  queue clears it.
- the event loop's own queue is watched too: a heartbeat every ``tick`` measures
  how late the loop runs it (its lag). Requests that wait in socket buffers and in
  the loop's ready queue are invisible to the admission queue; a loop that is late
  by more than ``lag_target`` for a whole interval is overloaded as well.
- bulk requests waiting for one of their ``bulk_limit`` slots are not overload of
  the service (a back office sending more batches than its lane runs at once): they
  never turn overload on, and wait up to ``bulk_wait`` (a batch's client is a program
  that can wait seconds; waiting costs the process nothing, and interactive requests
  get free slots first).
- normally a queue is FIFO and an interactive request may wait up to ``max_wait``;
- overloaded, queues are served newest first (LIFO: the requests most likely to
  have a client still waiting get the answers, the old ones are shed), new bulk
  requests are refused on arrival, and an interactive request waits at most
  ``overload_wait``. When only the loop's lag says overload, bulk is refused only
  while interactive requests run or wait: it is shed to protect them.
- a slot freed goes to an interactive request before a bulk one, and bulk never
  holds more than half of the (adaptive) limit.

Waiting costs no timer per request: the heartbeat sheds the waiters whose time is
up (the oldest of each queue), so a queue of a thousand costs a thousand futures
and nothing per tick beyond those it sheds. A shed request raises
:class:`~verify.errors.Overloaded`; it never ran, so it has no audit row and cost
little. The clock is passed in: the unit tests drive it (and call ``sweep``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from verify.errors import Overloaded


class Lane(StrEnum):
    INTERACTIVE = "interactive"
    BULK = "bulk"


@dataclass(frozen=True)
class AdmissionConfig:
    limit: int = 64
    bulk_limit: int = 16
    target_s: float = 0.005
    interval_s: float = 0.1
    max_wait_s: float = 0.5
    overload_wait_s: float = 0.25
    retry_after_s: float = 1.0
    bulk_wait_s: float = 5.0
    tick_s: float = 0.01
    lag_target_s: float | None = 0.05  # None: the loop's lag never means overload
    min_limit: int = 4  # the adaptive limit's floor


class _Waiter:
    """One queued request; compared by identity (a queue of them is an ordered set)."""

    __slots__ = ("future", "lane", "since")

    def __init__(self, lane: Lane, since: float, future: asyncio.Future[bool]) -> None:
        self.lane = lane
        self.since = since
        self.future = future  # True: a slot was handed over; False: shed


# members read through the class cost a descriptor call each (Python 3.11's enum): the per-request
# paths use these
_INTERACTIVE, _BULK = Lane.INTERACTIVE, Lane.BULK
SHED_REASONS = ("overload", "queue_timeout")
Observer = Callable[[Lane, str], None]  # (lane, reason) of a shed request
WaitObserver = Callable[[Lane, float], None]  # (lane, seconds waited) of an admitted request
LagObserver = Callable[[float], None]  # seconds the event loop ran a heartbeat late


def _ignore_shed(lane: Lane, reason: str) -> None:
    return None


def _ignore_wait(lane: Lane, seconds: float) -> None:
    return None


def _ignore_lag(seconds: float) -> None:
    return None


def _ignore_limit(limit: int) -> None:
    return None


class Admission:
    """Slots with a wait queue per lane. One per process (one event loop)."""

    def __init__(
        self,
        config: AdmissionConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_shed: Observer = _ignore_shed,
        on_wait: WaitObserver = _ignore_wait,
        on_state: Callable[[bool], None] | None = None,
        on_lag: LagObserver = _ignore_lag,
        on_limit: Callable[[int], None] = _ignore_limit,
    ) -> None:
        self.config = config
        self._clock = clock
        self._on_shed = on_shed
        self._on_wait = on_wait
        self._on_state = on_state
        self._on_lag = on_lag
        self._on_limit = on_limit
        self._queues: dict[Lane, OrderedDict[_Waiter, None]] = {
            lane: OrderedDict() for lane in Lane
        }
        self._running: dict[Lane, int] = dict.fromkeys(Lane, 0)
        self.limit = config.limit  # adaptive: between min_limit and config.limit
        self._limited = False  # a request found every slot taken in this interval
        self._interval_end = clock() + config.interval_s
        # smallest interactive sojourn of this interval (0: someone did not wait)
        self._interval_min = 0.0
        self._lag_min = 0.0  # smallest heartbeat lag of this interval
        self._beat: asyncio.TimerHandle | None = None
        self._beat_due = 0.0
        self._queue_overloaded = False  # a standing interactive queue (CoDel)
        self.overloaded = False  # that, or a late event loop

    @property
    def in_flight(self) -> int:
        return sum(self._running.values())

    def queued(self, lane: Lane) -> int:
        return len(self._queues[lane])

    async def acquire(self, lane: Lane) -> None:
        """Wait for a slot, or raise Overloaded. Every successful acquire needs a release."""
        now = self._clock()
        self._tick(now)
        if lane is Lane.BULK and self._refuses_bulk():
            self._shed(lane, "overload")
        queue = self._queues[lane]
        if not queue and self._can_start(lane):
            self._start(lane, now, now)
            return
        waiter = _Waiter(lane, now, asyncio.get_running_loop().create_future())
        queue[waiter] = None
        self._arm()
        try:
            admitted = await waiter.future
        except asyncio.CancelledError:
            self._abandon(waiter)
            raise
        if not admitted:
            self._shed(lane, "queue_timeout")

    def try_acquire(self, lane: Lane) -> bool:
        """``acquire`` without an await, for the common case: an interactive request, a
        free slot, nobody queued, within the current interval. True: admitted (as
        ``acquire`` would have, with a wait of 0); False: call ``acquire``."""
        if lane is not _INTERACTIVE or self._queues[lane]:
            return False
        now = self._clock()
        running = self._running
        if now >= self._interval_end or sum(running.values()) >= self.limit:
            return False  # acquire ticks the interval, or marks the limit reached and queues
        running[lane] += 1
        if self._beat is None:
            self._arm()
        self._interval_min = 0.0  # _sojourn of a request that did not wait
        self._on_wait(lane, 0.0)
        return True

    def release(self, lane: Lane) -> None:
        self._running[lane] -= 1
        now = self._clock()
        if now >= self._interval_end:  # what _tick checks first: no call for the common case
            self._tick(now)
        queues = self._queues
        if queues[_INTERACTIVE] or queues[_BULK]:
            self._wake(now)

    def sweep(self) -> None:
        """Shed the waiters whose time is up; the heartbeat calls it every ``tick``."""
        now = self._clock()
        self._tick(now)
        config = self.config
        interactive = config.overload_wait_s if self.overloaded else config.max_wait_s
        for lane, queue in self._queues.items():
            wait = interactive if lane is Lane.INTERACTIVE else config.bulk_wait_s
            while queue:
                oldest = next(iter(queue))
                if now - oldest.since < wait:
                    break
                del queue[oldest]
                self._sojourn(lane, now - oldest.since)
                if not oldest.future.done():
                    oldest.future.set_result(False)

    def _refuses_bulk(self) -> bool:
        """Overloaded, new bulk work is refused; when only the loop's lag says so, only
        while interactive requests run or wait (with none, there is nobody to protect)."""
        if not self.overloaded:
            return False
        return self._queue_overloaded or bool(
            self._running[Lane.INTERACTIVE] or self._queues[Lane.INTERACTIVE]
        )

    def _can_start(self, lane: Lane) -> bool:
        if self.in_flight >= self.limit:
            self._limited = True
            return False
        if lane is Lane.INTERACTIVE:
            return True
        # bulk never holds more than half of the adaptive limit: counters keep slots even
        # when a flood of batches has driven the limit down
        bulk_limit = min(self.config.bulk_limit, max(1, self.limit // 2))
        return self._running[Lane.BULK] < bulk_limit

    def _start(self, lane: Lane, since: float, now: float) -> None:
        self._running[lane] += 1
        self._arm()
        sojourn = now - since
        self._sojourn(lane, sojourn)
        self._on_wait(lane, sojourn)

    def _sojourn(self, lane: Lane, seconds: float) -> None:
        if lane is Lane.INTERACTIVE and seconds < self._interval_min:
            self._interval_min = seconds

    def _wake(self, now: float) -> None:
        """Hand free slots to waiters: interactive first; newest first when overloaded."""
        lifo = self.overloaded
        for lane, queue in self._queues.items():
            while queue and self._can_start(lane):
                waiter, _ = queue.popitem(last=lifo)
                if waiter.future.done():
                    continue
                self._start(lane, waiter.since, now)
                waiter.future.set_result(True)

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter cancelled (its client hung up, a timeout): out of its queue; give back
        a slot handed to it in the same tick it gave up."""
        future = waiter.future
        if future.done() and not future.cancelled():
            if future.result():
                self.release(waiter.lane)
            return
        future.cancel()
        self._queues[waiter.lane].pop(waiter, None)

    def _tick(self, now: float) -> None:
        """CoDel's interval: overloaded iff the smallest interactive wait of the last
        interval, or the smallest heartbeat lag of it, was above its target.

        Sojourns are taken when a request leaves the queue (started or shed). An interval
        that began with an interactive queue and saw nobody leave it counts as a standing
        queue.
        """
        if now < self._interval_end:
            return
        lag_target = self.config.lag_target_s
        self._queue_overloaded = self._interval_min > self.config.target_s
        overloaded = self._queue_overloaded or (
            lag_target is not None and self._lag_min > lag_target
        )
        if overloaded != self.overloaded and self._on_state is not None:
            self._on_state(overloaded)
        raised = self._adapt(lag_target)
        self.overloaded = overloaded
        self._interval_end = now + self.config.interval_s
        self._interval_min = float("inf") if self._queues[Lane.INTERACTIVE] else 0.0
        self._lag_min = float("inf") if self._beat is not None else 0.0
        if raised:
            self._wake(now)

    def _adapt(self, lag_target: float | None) -> bool:
        """The concurrency limit, AIMD on the loop's lag (as TCP on a link's delay): a loop
        late for a whole interval runs more requests than its CPU turns over, each then
        waiting a lap per await, so the limit shrinks by a tenth; a punctual loop whose
        slots were all taken gets one more. The limit settles where the loop is just busy,
        whatever the capacity; the requests above it wait in the queue, where CoDel and
        the timeouts see them, instead of in the loop."""
        if lag_target is None:
            return False
        limit = self.limit
        if self._lag_min > lag_target:
            floor = min(self.config.min_limit, self.config.limit)
            limit = max(floor, min(limit - 1, int(limit * 0.9)))
        elif self._limited and self._lag_min <= lag_target / 2:
            limit = min(self.config.limit, limit + 1)
        self._limited = False
        previous, self.limit = self.limit, limit
        if limit != previous:
            self._on_limit(limit)
        return limit > previous

    def _arm(self) -> None:
        """Start the heartbeat (it runs while requests are queued or running)."""
        if self._beat is None:
            self._beat_due = self._clock() + self.config.tick_s
            loop = asyncio.get_running_loop()
            self._beat = loop.call_later(self.config.tick_s, self.heartbeat)

    def heartbeat(self) -> None:
        """Measure how late the loop ran this beat, shed the waiters whose time is up, and
        beat again while there is work."""
        if self._beat is not None:
            self._beat.cancel()  # a beat driven from outside (tests) replaces the timer's
            self._beat = None
        try:
            lag = max(0.0, self._clock() - self._beat_due)
            if lag < self._lag_min:
                self._lag_min = lag
            self._on_lag(lag)
        finally:  # re-armed whatever an observer raised: the sweep bounds every wait
            if self.in_flight or any(self._queues.values()) or self.overloaded:
                self._arm()
        self.sweep()

    def _shed(self, lane: Lane, reason: str) -> None:
        self._on_shed(lane, reason)
        raise Overloaded(
            "the service is at capacity, retry shortly", retry_after=self.config.retry_after_s
        )
