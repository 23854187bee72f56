"""Per-request time limits on one shared timer: as asyncio.timeout, without a timer each."""

from __future__ import annotations

import asyncio

import pytest

from verify.http.deadlines import Deadlines

LIMIT_S = 0.05  # short enough for a test to wait for; no assertion is about time


async def _bounded(deadlines: Deadlines, work: asyncio.Future[None]) -> str:
    """What the middleware does around a handler."""
    deadline = deadlines.start()
    try:
        await work
        return "done"
    except asyncio.CancelledError:
        if not deadline.timed_out():
            raise
        return "timeout"
    finally:
        deadlines.done(deadline)


async def test_a_request_that_ends_in_time_is_never_cancelled_and_leaves_the_queue() -> None:
    deadlines = Deadlines(LIMIT_S)
    loop = asyncio.get_running_loop()
    work = [loop.create_future() for _ in range(5)]
    tasks = [asyncio.create_task(_bounded(deadlines, w)) for w in work]
    await asyncio.sleep(0)
    assert len(deadlines) == 5
    for w in work:
        w.set_result(None)
    assert await asyncio.gather(*tasks) == ["done"] * 5
    assert len(deadlines) == 0
    await asyncio.sleep(2 * LIMIT_S)  # the timer fires on an empty queue: nothing to cancel
    deadlines.close()


async def test_a_request_past_its_limit_is_cancelled_and_answered_as_a_timeout() -> None:
    deadlines = Deadlines(LIMIT_S)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(_bounded(deadlines, never))
    assert await task == "timeout"
    assert task.cancelling() == 0  # the cancellation was ours and is consumed
    assert len(deadlines) == 0
    deadlines.close()


async def test_only_the_late_requests_are_cancelled_the_others_run_on() -> None:
    deadlines = Deadlines(LIMIT_S)
    loop = asyncio.get_running_loop()
    first: asyncio.Future[None] = loop.create_future()
    done_first = asyncio.create_task(_bounded(deadlines, first))
    late = asyncio.create_task(_bounded(deadlines, loop.create_future()))
    await asyncio.sleep(0)
    first.set_result(None)  # the oldest ends: the one behind it is still timed
    assert await done_first == "done"
    assert await late == "timeout"
    second: asyncio.Future[None] = loop.create_future()
    fresh = asyncio.create_task(_bounded(deadlines, second))  # a later request, its own limit
    await asyncio.sleep(0)
    second.set_result(None)
    assert await fresh == "done"
    deadlines.close()


async def test_a_cancellation_from_elsewhere_is_not_taken_for_a_timeout() -> None:
    deadlines = Deadlines(60.0)
    task = asyncio.create_task(_bounded(deadlines, asyncio.get_running_loop().create_future()))
    await asyncio.sleep(0)
    task.cancel()  # a client that hung up, a shutdown
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(deadlines) == 0
    deadlines.close()
