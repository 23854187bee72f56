"""The change-feed listener: LISTEN on a dedicated connection, replay the change log, invalidate.

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

import asyncpg

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
from verify.adapters.changes import CHANNEL, LISTENER_APP_NAME, feed_start, read_changes

FEED_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class ChangeListener:
    def __init__(
        self,
        dsn: str,
        invalidator: Invalidator,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        poll_s: float = CHANGE_POLL_S,
        trust_s: float = FEED_TRUST_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dsn = dsn
        self._inv = invalidator
        self._timeout = timeout_s
        self._connect_timeout = connect_timeout_s
        self._poll = poll_s
        self._trust = trust_s
        self._clock = clock
        self._conn: asyncpg.Connection | None = None
        self._window: FeedWindow | None = None
        self._replay_to = 0  # Redis is trusted again once the window is back here
        self._reconciled = False
        self._last_sync: float | None = None
        self._wake = asyncio.Event()
        self._synced = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0

    @property
    def backend_pid(self) -> int | None:
        conn = self._conn
        return None if conn is None or conn.is_closed() else conn.get_server_pid()

    def cache_trusted(self) -> bool:
        window, last = self._window, self._last_sync
        if window is None or last is None or not window.ready:
            return False
        return self._clock() - last < self._trust

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
            except FEED_ERRORS:
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
        conn = await self._connection()
        assert self._window is not None
        started = self._clock()
        batch = await read_changes(
            conn,
            self._window.low,
            page=CHANGE_BATCH,
            max_rows=CHANGE_MAX_ROWS,
            timeout_s=self._timeout,
        )
        fresh = self._window.fresh(batch.changes)
        await self._inv.apply(fresh)
        self._window.observe(batch)
        self._last_sync = started
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

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        self._drop()
        async with asyncio.timeout(self._connect_timeout + self._timeout):
            conn = await asyncpg.connect(
                self._dsn,
                timeout=self._connect_timeout,
                command_timeout=self._timeout,  # BEGIN/COMMIT of read_changes included
                server_settings={"application_name": LISTENER_APP_NAME},
            )
            try:
                await conn.add_listener(CHANNEL, self._notified)
                conn.add_termination_listener(self._terminated)
                if self._window is None:
                    top, xmax = await feed_start(conn, timeout_s=self._timeout)
                    self._window = FeedWindow(top, xmax)
            except BaseException:
                conn.terminate()
                raise
        if self._last_sync is not None:
            self.reconnects += 1
        self._conn = conn
        return conn

    def _notified(self, *_: object) -> None:
        self._wake.set()

    def _terminated(self, *_: object) -> None:
        self._wake.set()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

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
