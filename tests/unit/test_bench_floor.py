"""The bench's floor servers (loadtest/bench/floor.py) gather work as the app does: one
flush in flight and what arrives meanwhile in the next (group commit), or one flush per
event-loop tick (lookups); a failure reaches every waiter."""

from __future__ import annotations

import asyncio

import pytest

from loadtest.bench.floor import Gather


async def test_what_arrives_during_a_flush_goes_in_the_next_one() -> None:
    flushed: list[list[int]] = []
    release = asyncio.Event()

    async def flush(items: list[int]) -> object:
        flushed.append(items)
        await release.wait()
        return len(items)

    gather = Gather(flush)
    first = [gather.add(n) for n in range(3)]
    await asyncio.sleep(0)  # the first flush starts with what the tick gathered
    later = [gather.add(n) for n in range(3, 5)]
    for _ in range(3):
        await asyncio.sleep(0)
    assert flushed == [[0, 1, 2]], "a second flush started while one was in flight"
    release.set()
    assert await asyncio.gather(*first) == [3, 3, 3]
    assert await asyncio.gather(*later) == [2, 2]
    assert flushed == [[0, 1, 2], [3, 4]]


async def test_a_failed_flush_fails_its_waiters_and_the_next_one_still_runs() -> None:
    calls = 0

    async def flush(items: list[str]) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("gone")
        return "ok"

    gather = Gather(flush)
    failed = gather.add("a")
    with pytest.raises(RuntimeError, match="gone"):
        await failed
    assert await gather.add("b") == "ok"


async def test_per_tick_each_tick_flushes_its_own_work_without_waiting() -> None:
    flushed: list[list[int]] = []
    release = asyncio.Event()

    async def flush(items: list[int]) -> object:
        flushed.append(items)
        await release.wait()
        return items

    gather = Gather(flush, per_tick=True)
    first = [gather.add(n) for n in range(2)]
    for _ in range(3):
        await asyncio.sleep(0)
    second = gather.add(2)
    for _ in range(3):
        await asyncio.sleep(0)
    assert flushed == [[0, 1], [2]], "the second tick waited for the first flush"
    release.set()
    assert await asyncio.gather(*first) == [[0, 1], [0, 1]]
    assert await second == [2]
