"""Admission control with a clock the test drives: slots, lanes, CoDel's overload state."""

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


def make(clock: Clock, **config: float) -> tuple[Admission, list[tuple[Lane, str]]]:
    shed: list[tuple[Lane, str]] = []
    defaults: dict[str, float] = {"limit": 2, "bulk_limit": 1, "max_wait_s": 5.0}
    cfg = AdmissionConfig(**{**defaults, **config})  # type: ignore[arg-type]
    admission = Admission(cfg, clock=clock, on_shed=lambda lane, why: shed.append((lane, why)))
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
    admission, shed = make(Clock(), limit=4, bulk_limit=1, max_wait_s=0.01)
    await admission.acquire(Lane.BULK)
    with pytest.raises(Overloaded):
        await admission.acquire(Lane.BULK)  # waits its 10 ms for the bulk slot, then shed
    await admission.acquire(Lane.INTERACTIVE)  # interactive slots are still free
    assert shed == [(Lane.BULK, "queue_timeout")]


async def test_a_request_that_waits_too_long_is_shed_with_retry_after() -> None:
    admission, shed = make(Clock(), limit=1, max_wait_s=0.01)
    await admission.acquire(Lane.INTERACTIVE)
    with pytest.raises(Overloaded) as caught:
        await admission.acquire(Lane.INTERACTIVE)
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
    admission = Admission(
        AdmissionConfig(limit=2, bulk_limit=1, max_wait_s=5.0),
        clock=clock,
        on_state=states.append,
    )
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
