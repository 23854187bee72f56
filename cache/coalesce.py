"""Coalescing of lookups: every key asked for during one event-loop tick goes out as one call.

``TickBatcher(fetch)`` gathers the keys requested by all coroutines that run in
the same tick, deduplicates them, and calls ``fetch`` once per chunk of at most
``max_batch`` keys, scheduled with ``loop.call_soon``. A key whose fetch is
already in flight joins it (single flight) instead of being fetched again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Fetch = Callable[[list[K]], Awaitable[Mapping[K, V]]]


class TickBatcher(Generic[K, V]):
    def __init__(
        self,
        fetch: Fetch[K, V],
        *,
        max_batch: int = 500,
        on_batch: Callable[[int], None] | None = None,
        on_join: Callable[[], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._max_batch = max_batch
        self._on_batch = on_batch
        self._on_join = on_join  # a key joined one already pending or in flight
        self._pending: dict[K, asyncio.Future[V | None]] = {}
        self._in_flight: dict[K, asyncio.Future[V | None]] = {}
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V | None:
        # shielded: the future is shared by every caller of this key; one caller giving
        # up (its request timed out) must not cancel it for the others
        return await asyncio.shield(self._future(key))

    async def get_many(self, keys: Collection[K]) -> dict[K, V]:
        futures = {key: self._future(key) for key in keys}
        if not futures:
            return {}
        if len(futures) == 1:  # one verify: no gather (a future and its callbacks less)
            [(key, future)] = futures.items()
            value = await asyncio.shield(future)
            return {} if value is None else {key: value}
        await asyncio.shield(asyncio.gather(*futures.values()))
        found: dict[K, V] = {}
        for key, future in futures.items():
            value = future.result()
            if value is not None:
                found[key] = value
        return found

    def _future(self, key: K) -> asyncio.Future[V | None]:
        existing = self._in_flight.get(key) or self._pending.get(key)
        if existing is not None and not existing.cancelled():
            if self._on_join is not None:
                self._on_join()
            return existing
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V | None] = loop.create_future()
        self._pending[key] = future
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._dispatch)
        return future

    def _dispatch(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, {}
        keys = list(pending)
        for start in range(0, len(keys), self._max_batch):
            chunk = {k: pending[k] for k in keys[start : start + self._max_batch]}
            self._in_flight.update(chunk)
            task = asyncio.get_running_loop().create_task(self._run(chunk))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, chunk: dict[K, asyncio.Future[V | None]]) -> None:
        if self._on_batch is not None:
            self._on_batch(len(chunk))
        try:
            found = await self._fetch(list(chunk))
        except BaseException as e:
            for key, future in chunk.items():
                self._in_flight.pop(key, None)
                if not future.done():
                    future.set_exception(e)
            if not isinstance(e, Exception):
                raise
            return
        for key, future in chunk.items():
            self._in_flight.pop(key, None)
            if not future.done():
                future.set_result(found.get(key))

    async def aclose(self) -> None:
        """Wait for fetches still in flight (graceful shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
