"""Admission control with a clock the test drives: slots, lanes, CoDel's overload state,
the event loop's lag. The heartbeat's timer never fires by itself here (a tick of an
hour): the tests advance the clock and call ``heartbeat``/``sweep``."""

from __future__ import annotations

import asyncio

import pytest

from verify.errors import Overloaded
from verify.service.admission import Admission, AdmissionConfig, Lane


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


DRIVEN: dict[str, float | None] = {"tick_s": 3600.0, "lag_target_s": None}


def config(**given: float | None) -> AdmissionConfig:
    defaults: dict[str, float | None] = {"limit": 2, "bulk_limit": 1, "max_wait_s": 5.0}
    return AdmissionConfig(**{**defaults, **DRIVEN, **given})  # type: ignore[arg-type]


def make(clock: Clock, **given: float | None) -> tuple[Admission, list[tuple[Lane, str]]]:
    shed: list[tuple[Lane, str]] = []
    admission = Admission(
        config(**given), clock=clock, on_shed=lambda lane, why: shed.append((lane, why))
    )
    return admission, shed


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_admits_up_to_the_limit_without_waiting() -> None:
    admission, shed = make(Clock())
    await admission.acquire(Lane.INTERACTIVE)
    await admission.acquire(Lane.INTERACTIVE)
    assert admission.in_flight == 2
    assert shed == []


async def test_a_freed_slot_goes_to_the_oldest_waiter_when_not_overloaded() -> None:
    admission, _ = make(Clock())
    for _ in range(2):
        await admission.acquire(Lane.INTERACTIVE)
    order: list[int] = []

    async def waiter(n: int) -> None:
        await admission.acquire(Lane.INTERACTIVE)
        order.append(n)

    tasks = [asyncio.create_task(waiter(n)) for n in range(3)]
    await settle()
    assert admission.queued(Lane.INTERACTIVE) == 3
    admission.release(Lane.INTERACTIVE)
    admission.release(Lane.INTERACTIVE)
    await settle()
    assert order == [0, 1]
    admission.release(Lane.INTERACTIVE)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]


async def test_interactive_waiters_go_before_bulk_waiters() -> None:
    admission, _ = make(Clock(), limit=1, bulk_limit=1)
    await admission.acquire(Lane.INTERACTIVE)
    order: list[Lane] = []

    async def waiter(lane: Lane) -> None:
        await admission.acquire(lane)
        order.append(lane)
        admission.release(lane)

    bulk = asyncio.create_task(waiter(Lane.BULK))
    await settle()
    single = asyncio.create_task(waiter(Lane.INTERACTIVE))
    await settle()
    admission.release(Lane.INTERACTIVE)
    await asyncio.gather(bulk, single)
    assert order == [Lane.INTERACTIVE, Lane.BULK]


async def test_bulk_never_holds_more_than_its_slots() -> None:
    clock = Clock()
    admission, shed = make(clock, limit=4, bulk_limit=1, bulk_wait_s=0.01)
    await admission.acquire(Lane.BULK)
    second = asyncio.create_task(admission.acquire(Lane.BULK))
    await settle()
    await admission.acquire(Lane.INTERACTIVE)  # interactive slots are still free
    clock.now += 0.01
    admission.sweep()
    with pytest.raises(Overloaded):
        await second  # waited its 10 ms for the bulk slot, then shed
    assert shed == [(Lane.BULK, "queue_timeout")]


async def test_a_request_that_waits_too_long_is_shed_with_retry_after() -> None:
    clock = Clock()
    admission, shed = make(clock, limit=1, max_wait_s=0.01)
    await admission.acquire(Lane.INTERACTIVE)
    task = asyncio.create_task(admission.acquire(Lane.INTERACTIVE))
    await settle()
    clock.now += 0.005
    admission.sweep()
    await settle()
    assert not task.done()  # its time is not up yet
    clock.now += 0.006
    admission.sweep()
    with pytest.raises(Overloaded) as caught:
        await task
    assert caught.value.retry_after == 1.0
    assert shed == [(Lane.INTERACTIVE, "queue_timeout")]
    assert admission.queued(Lane.INTERACTIVE) == 0
    admission.release(Lane.INTERACTIVE)
    await admission.acquire(Lane.INTERACTIVE)  # the slot came back


async def _standing_queue(admission: Admission, clock: Clock) -> list[asyncio.Task[None]]:
    """Slots full and a queue that every request of a whole interval waited in."""
    for _ in range(admission.config.limit):
        await admission.acquire(Lane.INTERACTIVE)
    waiters = [asyncio.create_task(admission.acquire(Lane.INTERACTIVE)) for _ in range(4)]
    await settle()
    clock.now += admission.config.interval_s
    admission.release(Lane.INTERACTIVE)  # first interval ends (it admitted without waiting)
    await settle()
    assert not admission.overloaded
    clock.now += admission.config.interval_s
    admission.release(Lane.INTERACTIVE)  # second ends: everyone in it waited >= 100 ms
    await settle()
    return waiters


async def test_a_standing_queue_turns_overload_on_and_an_empty_one_off() -> None:
    clock = Clock()
    states: list[bool] = []
    admission = Admission(config(), clock=clock, on_state=states.append)
    waiters = await _standing_queue(admission, clock)
    assert admission.overloaded
    assert states == [True]
    for _ in range(admission.in_flight):
        admission.release(Lane.INTERACTIVE)
    await settle()
    for _ in range(admission.in_flight):
        admission.release(Lane.INTERACTIVE)
    await asyncio.gather(*waiters)
    await admission.acquire(Lane.INTERACTIVE)  # no wait: this interval's minimum is 0
    clock.now += admission.config.interval_s
    admission.release(Lane.INTERACTIVE)
    assert states == [True, False]


async def test_overloaded_refuses_bulk_on_arrival_and_serves_newest_first() -> None:
    clock = Clock()
    admission, shed = make(clock)
    waiters = await _standing_queue(admission, clock)
    assert admission.overloaded
    with pytest.raises(Overloaded):
        await admission.acquire(Lane.BULK)
    assert shed == [(Lane.BULK, "overload")]
    newest = asyncio.create_task(admission.acquire(Lane.INTERACTIVE))
    await settle()
    admission.release(Lane.INTERACTIVE)
    await settle()
    assert newest.done()  # LIFO: the newest waiter got the slot
    assert sum(t.done() for t in waiters) == 2  # the older ones still wait
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert admission.queued(Lane.INTERACTIVE) == 0


async def test_a_cancelled_waiter_leaves_the_queue_and_takes_no_slot() -> None:
    admission, _ = make(Clock(), limit=1)
    await admission.acquire(Lane.INTERACTIVE)
    task = asyncio.create_task(admission.acquire(Lane.INTERACTIVE))
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert admission.queued(Lane.INTERACTIVE) == 0
    admission.release(Lane.INTERACTIVE)
    assert admission.in_flight == 0


async def test_bulk_waiting_for_its_own_slots_is_not_overload() -> None:
    """A back office sending more batches than the bulk lane runs at once queues in its
    lane; that is no overload of the service, so later batches wait too, not refused."""
    clock = Clock()
    admission, shed = make(clock, limit=4, bulk_limit=1)
    await admission.acquire(Lane.BULK)
    waiting = [asyncio.create_task(admission.acquire(Lane.BULK)) for _ in range(3)]
    await settle()
    for _ in range(3):  # three whole intervals in which every bulk waiter kept waiting
        clock.now += admission.config.interval_s
        admission.sweep()
    assert not admission.overloaded
    late = asyncio.create_task(admission.acquire(Lane.BULK))  # waits its turn
    await settle()
    assert admission.queued(Lane.BULK) == 4
    assert shed == []
    for _ in range(4):
        admission.release(Lane.BULK)
        await settle()
    await asyncio.gather(*waiting, late)
    assert shed == []
    assert admission.in_flight == 1


async def test_bulk_waits_its_own_timeout_not_the_interactive_one() -> None:
    clock = Clock()
    admission, shed = make(clock, limit=4, bulk_limit=1, max_wait_s=0.5, bulk_wait_s=5.0)
    await admission.acquire(Lane.BULK)
    waiting = asyncio.create_task(admission.acquire(Lane.BULK))
    await settle()
    clock.now += 1.0
    admission.sweep()
    await settle()
    assert not waiting.done()
    clock.now += 4.0
    admission.sweep()
    with pytest.raises(Overloaded):
        await waiting
    assert shed == [(Lane.BULK, "queue_timeout")]


async def test_interactive_requests_run_while_the_bulk_lane_queues() -> None:
    clock = Clock()
    admission, _ = make(clock, limit=3, bulk_limit=1)
    await admission.acquire(Lane.BULK)
    waiting = asyncio.create_task(admission.acquire(Lane.BULK))
    await settle()
    clock.now += 2 * admission.config.interval_s
    await admission.acquire(Lane.INTERACTIVE)  # at once: the bulk queue is not in its way
    assert admission.queued(Lane.BULK) == 1
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)


async def test_overloaded_waiters_are_shed_after_the_overload_wait_oldest_first() -> None:
    clock = Clock()
    admission, shed = make(clock, overload_wait_s=0.25)
    waiters = await _standing_queue(admission, clock)
    assert admission.overloaded
    # the two oldest got slots (LIFO once overloaded: see above); two wait since t=100
    newer = asyncio.create_task(admission.acquire(Lane.INTERACTIVE))
    await settle()
    clock.now = 100.25
    admission.sweep()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert sum(isinstance(t.exception(), Overloaded) for t in waiters) == 2
    assert not newer.done()  # it came at t=100.2: 50 ms left
    assert shed == [(Lane.INTERACTIVE, "queue_timeout")] * 2
    newer.cancel()
    await asyncio.gather(newer, return_exceptions=True)


async def test_a_late_event_loop_is_overload_even_with_an_empty_queue() -> None:
    """Requests that wait in socket buffers and the loop's ready queue never reach the
    admission queue; the heartbeat's lag sees them."""
    clock = Clock()
    lags: list[float] = []
    states: list[bool] = []
    admission = Admission(
        config(limit=8, tick_s=0.01, lag_target_s=0.05),
        clock=clock,
        on_state=states.append,
        on_lag=lags.append,
    )
    await admission.acquire(Lane.INTERACTIVE)  # a request runs: the heartbeat is armed

    def beats(late_by: float, n: int) -> None:
        for _ in range(n):
            clock.now += admission.config.tick_s + late_by
            admission.heartbeat()

    beats(0.0, 11)  # on time for a whole interval
    assert states == []
    beats(0.06, 5)  # every beat of a whole interval 60 ms late
    assert lags[-1] == pytest.approx(0.06)
    assert states == [True]
    assert admission.queued(Lane.INTERACTIVE) == 0
    with pytest.raises(Overloaded):
        await admission.acquire(Lane.BULK)  # overload refuses bulk on arrival
    admission.release(Lane.INTERACTIVE)
    await admission.acquire(Lane.BULK)  # no interactive request to protect: bulk runs
    beats(0.0, 11)
    assert states == [True, False]


async def test_one_late_beat_is_not_overload() -> None:
    clock = Clock()
    admission, _ = make(clock, limit=8, tick_s=0.01, lag_target_s=0.05)
    await admission.acquire(Lane.INTERACTIVE)
    for late_by in (0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0):
        clock.now += admission.config.tick_s + late_by
        admission.heartbeat()
    assert not admission.overloaded  # the interval's smallest lag was 0


async def test_the_heartbeat_stops_when_idle() -> None:
    clock = Clock()
    admission, _ = make(clock, tick_s=0.01)
    await admission.acquire(Lane.INTERACTIVE)
    admission.release(Lane.INTERACTIVE)
    admission.heartbeat()  # nothing runs, nothing waits, no overload: not re-armed
    assert admission._beat is None


async def test_a_late_loop_lowers_the_limit_and_a_punctual_busy_one_raises_it() -> None:
    clock = Clock()
    limits: list[int] = []
    admission = Admission(
        config(limit=20, min_limit=4, tick_s=0.01, lag_target_s=0.02),
        clock=clock,
        on_limit=limits.append,
    )
    await admission.acquire(Lane.INTERACTIVE)

    def interval(late_by: float) -> None:
        for _ in range(10):
            clock.now += admission.config.tick_s + late_by
            admission.heartbeat()

    interval(0.0)  # sets the first interval's boundary
    for _ in range(30):
        interval(0.05)
    assert admission.limit == 4  # down to the floor, a tenth at a time
    assert limits[:3] == [18, 16, 14]
    for _ in range(3):
        interval(0.0)
    assert admission.limit == 4  # punctual, but the slots were never all taken
    for _ in range(3):  # every slot taken, one more waits: the limit binds
        await admission.acquire(Lane.INTERACTIVE)
    waiter = asyncio.create_task(admission.acquire(Lane.INTERACTIVE))
    await settle()
    interval(0.0)
    assert admission.limit == 5
    await settle()
    assert waiter.done()  # the new slot went to the waiter
    interval(0.0)
    assert admission.limit == 5  # nobody waited since
    assert admission.limit <= admission.config.limit


async def test_the_limit_never_exceeds_the_configured_one() -> None:
    clock = Clock()
    admission, _ = make(clock, limit=2, tick_s=0.01, lag_target_s=0.02)
    for _ in range(2):
        await admission.acquire(Lane.INTERACTIVE)
    waiter = asyncio.create_task(admission.acquire(Lane.INTERACTIVE))
    await settle()
    for _ in range(30):
        clock.now += 0.01
        admission.heartbeat()
    assert admission.limit == 2
    clock.now += 1.0  # the loop stalls a whole second: back off, but not below the floor
    for _ in range(30):
        clock.now += 0.05
        admission.heartbeat()
    assert admission.limit == 2  # the floor (min_limit 4) is capped by the configured limit
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)


async def test_bulk_holds_at_most_half_of_a_lowered_limit() -> None:
    clock = Clock()
    admission, _ = make(clock, limit=8, bulk_limit=8, min_limit=4, tick_s=0.01)
    admission.limit = 4  # as a late loop leaves it
    for _ in range(2):
        await admission.acquire(Lane.BULK)
    third = asyncio.create_task(admission.acquire(Lane.BULK))
    await settle()
    assert not third.done()  # two of four slots: the rest are the counters'
    await admission.acquire(Lane.INTERACTIVE)
    await admission.acquire(Lane.INTERACTIVE)
    assert admission.in_flight == 4
    third.cancel()
    await asyncio.gather(third, return_exceptions=True)


async def test_an_observer_that_raises_does_not_stop_the_heartbeat(
    loop_errors_expected: None,
) -> None:
    """The heartbeat's sweep is what bounds every wait: a metric that raised once in the
    timer's beat must not leave the queue without one (waiters would wait forever)."""
    clock = Clock()
    failures = [RuntimeError("a metric broke")]

    def on_lag(lag: float) -> None:
        if failures:
            raise failures.pop()

    admission = Admission(config(limit=1, max_wait_s=0.05, tick_s=0.01), clock=clock, on_lag=on_lag)
    await admission.acquire(Lane.INTERACTIVE)  # the heartbeat's timer is armed (10 ms)
    waiter = asyncio.create_task(admission.acquire(Lane.INTERACTIVE))
    await settle()
    clock.now += 0.1  # the waiter's time is up: the next beats shed it
    with pytest.raises(Overloaded):
        await asyncio.wait_for(waiter, 2)  # the first beat raised; the next one swept
    assert not failures


async def test_try_acquire_admits_only_what_acquire_would_admit_at_once() -> None:
    clock = Clock()
    admission, shed = make(clock)
    assert admission.try_acquire(Lane.INTERACTIVE)
    assert not admission.try_acquire(Lane.BULK)  # bulk always goes through acquire
    assert admission.try_acquire(Lane.INTERACTIVE)
    assert admission.in_flight == 2
    assert not admission.try_acquire(Lane.INTERACTIVE)  # full: acquire queues it
    waiting = asyncio.ensure_future(admission.acquire(Lane.INTERACTIVE))
    await settle()
    admission.release(Lane.INTERACTIVE)  # the slot goes to the waiter...
    await settle()
    assert waiting.done() and admission.in_flight == 2
    admission.release(Lane.INTERACTIVE)
    assert admission.queued(Lane.INTERACTIVE) == 0
    clock.now += 3600  # ...and past the interval acquire must tick it first
    assert not admission.try_acquire(Lane.INTERACTIVE)
    assert shed == []
