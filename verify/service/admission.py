"""Admission control: bound the time a request waits, not the number of requests.

A process admits up to ``limit`` requests at once; the rest wait in a queue of
their class (interactive: single verifies, lookups; bulk: batches, streams,
jobs). The queue is watched the way CoDel watches a router's (Nichols and
Jacobson; Facebook's "adaptive LIFO + CoDel" for RPC servers):

- every ``interval`` the smallest sojourn (time spent waiting) seen in that
  interval is compared with ``target``. A standing queue (the smallest wait of a
  whole interval above the target) means overload; an empty queue clears it.
- normally the queue is FIFO and a request may wait up to ``max_wait``;
- overloaded, the queue is served newest first (LIFO: the requests most likely
  to have a client still waiting get the answers, the old ones are shed), bulk
  requests are refused on arrival, and interactive ones wait at most
  ``overload_wait``.
- a slot freed goes to an interactive request before a bulk one, and bulk work
  never holds more than ``bulk_limit`` slots, so counters keep their latency while
  a back office floods.

A shed request raises :class:`~verify.errors.Overloaded`; it never ran, so it has
no audit row and cost little. The clock is passed in: the unit tests drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
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


@dataclass
class _Waiter:
    lane: Lane
    since: float
    future: asyncio.Future[None]


SHED_REASONS = ("overload", "queue_timeout")
Observer = Callable[[Lane, str], None]  # (lane, reason) of a shed request
WaitObserver = Callable[[Lane, float], None]  # (lane, seconds waited) of an admitted request


def _ignore_shed(lane: Lane, reason: str) -> None:
    return None


def _ignore_wait(lane: Lane, seconds: float) -> None:
    return None


class Admission:
    """Slots with a CoDel-watched wait queue per lane. One per process (one event loop)."""

    def __init__(
        self,
        config: AdmissionConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_shed: Observer = _ignore_shed,
        on_wait: WaitObserver = _ignore_wait,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._on_shed = on_shed
        self._on_wait = on_wait
        self._on_state = on_state
        self._queues: dict[Lane, deque[_Waiter]] = {lane: deque() for lane in Lane}
        self._running: dict[Lane, int] = dict.fromkeys(Lane, 0)
        self._interval_end = clock() + config.interval_s
        self._interval_min = 0.0  # smallest sojourn of this interval (0: someone did not wait)
        self.overloaded = False

    @property
    def in_flight(self) -> int:
        return sum(self._running.values())

    def queued(self, lane: Lane) -> int:
        return len(self._queues[lane])

    async def acquire(self, lane: Lane) -> None:
        """Wait for a slot, or raise Overloaded. Every successful acquire needs a release."""
        now = self._clock()
        self._tick(now)
        if self._can_start(lane) and not self._queues[lane]:
            self._start(lane, now, now)
            return
        if self.overloaded and lane is Lane.BULK:
            self._shed(lane, "overload")
        waiter = _Waiter(lane, now, asyncio.get_running_loop().create_future())
        self._queues[lane].append(waiter)
        wait = self.config.overload_wait_s if self.overloaded else self.config.max_wait_s
        try:
            async with asyncio.timeout(wait):
                await waiter.future
        except TimeoutError:
            self._abandon(waiter)
            self._interval_min = min(self._interval_min, self._clock() - now)
            self._shed(lane, "queue_timeout")
        except asyncio.CancelledError:
            self._abandon(waiter)
            raise

    def release(self, lane: Lane) -> None:
        self._running[lane] -= 1
        now = self._clock()
        self._tick(now)
        self._wake(now)

    def _can_start(self, lane: Lane) -> bool:
        if self.in_flight >= self.config.limit:
            return False
        return lane is Lane.INTERACTIVE or self._running[Lane.BULK] < self.config.bulk_limit

    def _start(self, lane: Lane, since: float, now: float) -> None:
        self._running[lane] += 1
        sojourn = now - since
        self._interval_min = min(self._interval_min, sojourn)
        self._on_wait(lane, sojourn)

    def _wake(self, now: float) -> None:
        """Hand free slots to waiters: interactive first; newest first when overloaded."""
        for lane in Lane:
            queue = self._queues[lane]
            while queue and self._can_start(lane):
                waiter = queue.pop() if self.overloaded else queue.popleft()
                if waiter.future.done():
                    continue
                self._start(lane, waiter.since, now)
                waiter.future.set_result(None)

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter that timed out or was cancelled: out of its queue; give back a slot
        handed to it in the same tick it gave up."""
        if waiter.future.done() and not waiter.future.cancelled():
            self.release(waiter.lane)
            return
        waiter.future.cancel()
        queue = self._queues[waiter.lane]
        with contextlib.suppress(ValueError):
            queue.remove(waiter)

    def _tick(self, now: float) -> None:
        """CoDel's interval: overloaded iff the smallest wait of the last interval > target.

        Sojourns are taken when a request leaves the queue (started or shed). An interval
        that began with a queue and saw nobody leave it counts as a standing queue.
        """
        if now < self._interval_end:
            return
        overloaded = self._interval_min > self.config.target_s
        if overloaded != self.overloaded and self._on_state is not None:
            self._on_state(overloaded)
        self.overloaded = overloaded
        self._interval_end = now + self.config.interval_s
        self._interval_min = float("inf") if any(self._queues.values()) else 0.0

    def _shed(self, lane: Lane, reason: str) -> None:
        self._on_shed(lane, reason)
        raise Overloaded(
            "the service is at capacity, retry shortly", retry_after=self.config.retry_after_s
        )
