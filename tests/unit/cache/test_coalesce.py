"""The per-tick batcher: one fetch per tick and chunk, one future per call, prefetch."""

from __future__ import annotations

import asyncio

import pytest

from cache.coalesce import TickBatcher


class Upper:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, keys: list[str]) -> dict[str, str]:
        self.calls.append(list(keys))
        await self.release.wait()
        return {k: k.upper() for k in keys if k != "gone"}


async def test_the_keys_of_one_tick_go_out_in_chunks_and_each_call_gets_its_own() -> None:
    fetch = Upper()
    joins: list[None] = []
    batcher: TickBatcher[str, str] = TickBatcher(
        fetch, max_batch=2, on_join=lambda: joins.append(None)
    )
    first = batcher.request(["a", "b", "c", "gone"])
    second = batcher.request({"c", "d"})
    duplicated = batcher.request(["d", "d"])
    assert await first == {"a": "A", "b": "B", "c": "C"}
    assert await second == {"c": "C", "d": "D"}
    assert await duplicated == {"d": "D"}
    assert sorted(map(sorted, fetch.calls)) == [["a", "b"], ["c", "gone"], ["d"]]
    assert len(joins) == 2  # c and d joined a pending key
    assert await batcher.request([]) == {}
    await batcher.aclose()


async def test_a_key_in_flight_is_joined_not_fetched_again() -> None:
    fetch = Upper()
    fetch.release.clear()
    batcher: TickBatcher[str, str] = TickBatcher(fetch)
    first = batcher.request(["a"])
    await asyncio.sleep(0)  # dispatched: "a" is in flight
    second = batcher.request(["a", "b"])
    await asyncio.sleep(0)
    fetch.release.set()
    assert await first == {"a": "A"} and await second == {"a": "A", "b": "B"}
    assert fetch.calls == [["a"], ["b"]]
    await batcher.aclose()


async def test_prefetch_fetches_for_no_waiter_and_is_joined() -> None:
    fetch = Upper()
    batcher: TickBatcher[str, str] = TickBatcher(fetch)
    batcher.prefetch(["a", "b"])
    joined = batcher.request(["b"])
    assert await joined == {"b": "B"}
    batcher.prefetch(["c"])
    for _ in range(3):
        await asyncio.sleep(0)
    await batcher.aclose()
    assert fetch.calls == [["a", "b"], ["c"]]


async def test_a_failed_fetch_fails_every_call_waiting_for_it() -> None:
    async def down(keys: list[str]) -> dict[str, str]:
        raise ConnectionError("down")

    batcher: TickBatcher[str, str] = TickBatcher(down, max_batch=1)
    one, two = batcher.request(["a", "b"]), batcher.request(["b"])
    with pytest.raises(ConnectionError):
        await one
    with pytest.raises(ConnectionError):
        await two
    batcher.prefetch(["c"])  # nobody waits: the failure leaves no task error behind
    for _ in range(3):
        await asyncio.sleep(0)
    await batcher.aclose()
