"""Coalescing of lookups: every key asked for during one event-loop tick goes out as one call.

``TickBatcher(fetch)`` gathers the keys requested by all coroutines that run in
the same tick, deduplicates them, and calls ``fetch`` once per chunk of at most
``max_batch`` keys, scheduled with ``loop.call_soon``. A key whose fetch is
already in flight joins it (single flight) instead of being fetched again.

A call waits on one future of its own, whatever the number of its keys: each key
holds the list of the calls waiting for it, and a call's future is resolved when its
last key is. A caller that gives up (its request timed out) cancels only its own
future; the fetch goes on for the others. :meth:`TickBatcher.prefetch` asks for keys
that nobody waits for (a refresh ahead of expiry): they leave with the tick's batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Fetch = Callable[[list[K]], Awaitable[Mapping[K, V]]]


class _Call(Generic[K, V]):
    """One ``get_many``: its future, the keys it still waits for, what was found."""

    __slots__ = ("found", "future", "left")

    def __init__(self, future: asyncio.Future[dict[K, V]], left: int) -> None:
        self.future = future
        self.left = left
        self.found: dict[K, V] = {}


class TickBatcher(Generic[K, V]):
    def __init__(
        self,
        fetch: Fetch[K, V],
        *,
        max_batch: int = 500,
        on_batch: Callable[[int], None] | None = None,
        on_join: Callable[[], None] | None = None,
        on_unwaited_failure: Callable[[int], None] | None = None,
    ) -> None:
        self._fetch = fetch
        # keys of a failed fetch that no call waited for (a prefetch): nobody else sees it
        self._on_unwaited_failure = on_unwaited_failure
        self._max_batch = max_batch
        self._on_batch = on_batch
        self._on_join = on_join  # a key joined one already pending or in flight
        self._pending: dict[K, list[_Call[K, V]]] = {}
        self._in_flight: dict[K, list[_Call[K, V]]] = {}
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V | None:
        return (await self.request((key,))).get(key)

    async def get_many(self, keys: Collection[K]) -> dict[K, V]:
        return await self.request(keys)

    def request(self, keys: Collection[K]) -> asyncio.Future[dict[K, V]]:
        """A future of the values found of ``keys`` (absent: not found), all fetched with
        this tick's batch or joining a fetch in flight; cancelling it cancels no fetch."""
        if not isinstance(keys, set | frozenset):
            keys = dict.fromkeys(keys).keys()  # each key once, in order
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[K, V]] = loop.create_future()
        if not keys:
            future.set_result({})
            return future
        call: _Call[K, V] = _Call(future, len(keys))
        pending, in_flight = self._pending, self._in_flight
        for key in keys:
            waiting = in_flight.get(key)
            if waiting is None:
                waiting = pending.get(key)
                if waiting is None:
                    pending[key] = [call]
                    continue
            if waiting and self._on_join is not None:
                self._on_join()
            waiting.append(call)
        if not self._scheduled and pending:
            self._scheduled = True
            loop.call_soon(self._dispatch)
        return future

    def prefetch(self, keys: Iterable[K]) -> None:
        """Fetch ``keys`` with this tick's batch, for no waiter (those pending or in flight
        already are left as they are)."""
        pending, in_flight = self._pending, self._in_flight
        added = False
        for key in keys:
            if key not in in_flight and key not in pending:
                pending[key] = []
                added = True
        if added and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, {}
        if not pending:
            return
        loop = asyncio.get_running_loop()
        chunks = [pending] if len(pending) <= self._max_batch else self._chunks(pending)
        for chunk in chunks:
            self._in_flight.update(chunk)
            task = loop.create_task(self._run(list(chunk)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _chunks(self, pending: dict[K, list[_Call[K, V]]]) -> list[dict[K, list[_Call[K, V]]]]:
        keys = list(pending)
        return [
            {k: pending[k] for k in keys[start : start + self._max_batch]}
            for start in range(0, len(keys), self._max_batch)
        ]

    async def _run(self, keys: list[K]) -> None:
        if self._on_batch is not None:
            self._on_batch(len(keys))
        try:
            found = await self._fetch(keys)
        except BaseException as e:
            self._fail(keys, e)
            if not isinstance(e, Exception):
                raise
            return
        get, in_flight = found.get, self._in_flight
        for key in keys:
            calls = in_flight.pop(key, None)
            if not calls:
                continue
            value = get(key)
            for call in calls:
                if value is not None:
                    call.found[key] = value
                call.left -= 1
                if call.left == 0 and not call.future.done():
                    call.future.set_result(call.found)

    def _fail(self, keys: list[K], e: BaseException) -> None:
        unwaited = 0
        for key in keys:
            calls = self._in_flight.pop(key, None)
            if not calls:
                unwaited += 1
                continue
            for call in calls:
                if not call.future.done():
                    call.future.set_exception(e)
        # a failure, not a cancellation (shutdown)
        if unwaited and isinstance(e, Exception) and self._on_unwaited_failure is not None:
            self._on_unwaited_failure(unwaited)

    async def aclose(self) -> None:
        """Wait for fetches still in flight (graceful shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
