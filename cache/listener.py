"""The change-feed listener: follow the change source, replay the change log, invalidate.

One task per process. It wakes on a NOTIFY (payload: a sequence number, only
a wake-up), on a lost connection, or every ``CHANGE_POLL_S`` (a NOTIFY sent
while the connection was down is lost for good: the poll and the replay from
the change log are what make invalidation reliable). Each sync reads the
changes past the window's low mark (``FeedWindow``), evicts L1 and tombstones
Redis. It reconnects by itself, re-LISTENs and replays from where it was.

The cache tiers are trusted only while the feed is live: a sync that started
less than ``FEED_TRUST_S`` ago succeeded. Otherwise every lookup goes to
Postgres (``ReadThrough`` checks :meth:`cache_trusted`), so a dead listener
can never leave stale answers behind for longer than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from cache.feed import FeedWindow
from cache.invalidation import Invalidator
from cache.keyspace import (
    CHANGE_BATCH,
    CHANGE_MAX_ROWS,
    CHANGE_POLL_S,
    FEED_TRUST_S,
    RECONNECT_BACKOFF_S,
)
from cache.redis_tier import RedisUnavailable
from cache.sources import ChangeFeed, ChangeSource
from verify.domain.changes import ChangeFeedUnavailable


class ChangeListener:
    def __init__(
        self,
        source: ChangeSource,
        invalidator: Invalidator,
        *,
        poll_s: float = CHANGE_POLL_S,
        trust_s: float = FEED_TRUST_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._inv = invalidator
        self._poll = poll_s
        self._trust = trust_s
        self._clock = clock
        self._feed: ChangeFeed | None = None
        self._window: FeedWindow | None = None
        self._replay_to = 0  # Redis is trusted again once the window is back here
        self._reconciled = False
        self._last_sync: float | None = None
        # cache_trusted() until then: a sync that started less than trust_s ago succeeded with
        # the window ready (set by _sync, the only place either can change)
        self._trusted_until = float("-inf")
        self._wake = asyncio.Event()
        self._synced = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0

    @property
    def backend_pid(self) -> int | None:
        feed = self._feed
        return None if feed is None or feed.is_closed() else feed.backend_pid

    def cache_trusted(self) -> bool:
        return self._clock() < self._trusted_until

    def redis_trusted(self) -> bool:
        window = self._window
        return (
            self.cache_trusted()
            and self._reconciled
            and window is not None
            and window.low >= self._replay_to
            and self._inv.clean
        )

    async def start(self, wait_s: float) -> None:
        """Start; wait up to ``wait_s`` for a first sync (until then lookups bypass the caches)."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self._synced.wait()

    async def _run(self) -> None:
        while not self._closing:
            try:
                more = await self._sync()
            except ChangeFeedUnavailable:
                self._drop()
                await self._wait(RECONNECT_BACKOFF_S)
                continue
            await self._housekeep()
            if self._window is not None and self._window.low >= self._replay_to:
                self._synced.set()
            if not more:
                await self._wait(self._poll)

    async def _sync(self) -> bool:
        """One pass over the change log; True when a backlog is left for the next one."""
        feed = await self._connection()
        assert self._window is not None
        started = self._clock()
        batch = await feed.read(self._window.low, page=CHANGE_BATCH, max_rows=CHANGE_MAX_ROWS)
        fresh = self._window.fresh(batch.changes)
        await self._inv.apply(fresh)
        self._window.observe(batch)
        self._last_sync = started
        self._trusted_until = started + self._trust if self._window.ready else float("-inf")
        return len(batch.changes) >= CHANGE_MAX_ROWS and bool(fresh)

    async def _housekeep(self) -> None:
        """Retry pending tombstones, reconcile with the Redis cursor, raise it."""
        window = self._window
        if window is None:
            return
        try:
            if not self._reconciled:
                cursor = await self._inv.read_cursor()
                if cursor is not None and cursor < window.low:
                    self._replay_to = window.low
                    window.rewind(cursor)
                    self._wake.set()
                self._reconciled = True
            if await self._inv.flush() and window.low >= self._replay_to:
                await self._inv.raise_cursor(window.low)
        except RedisUnavailable:
            pass  # counted by the tier; retried on the next pass

    async def _connection(self) -> ChangeFeed:
        if self._feed is not None and not self._feed.is_closed():
            return self._feed
        self._drop()
        feed = await self._source.connect(self._wake.set)
        try:
            if self._window is None:
                top, xmax = await feed.start()
                self._window = FeedWindow(top, xmax)
        except BaseException:
            feed.close()
            raise
        if self._last_sync is not None:
            self.reconnects += 1
        self._feed = feed
        return feed

    def _drop(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.close()

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def aclose(self, wait_s: float = 2.0) -> None:
        self._closing = True
        self._wake.set()
        task, self._task = self._task, None
        try:
            if task is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):
                        await task  # cancelled when it does not end in time
        finally:
            self._drop()
