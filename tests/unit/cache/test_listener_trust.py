"""The tiers are trusted only for ``trust_s`` after the start of the last successful sync of a
ready window (DESIGN.md invariant 2): one clock compare per lookup, same rule."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

from cache.codec import Codec
from cache.keyspace import KeySpace
from cache.listener import ChangeListener
from cache.register import CachedRegister
from tests.unit.cache.test_refresh_ahead import Source
from tests.unit.cache.test_units import FakeClock
from verify.domain.changes import ChangeBatch, ChangeFeedUnavailable


class Feed:
    def __init__(self, owner: Changes) -> None:
        self.owner = owner
        self.backend_pid = 7

    def is_closed(self) -> bool:
        return False

    async def start(self) -> tuple[int, int]:
        return 0, 10  # transactions below xid 10 may still commit older changes

    async def read(self, after: int, *, page: int, max_rows: int) -> ChangeBatch:
        self.owner.reads += 1
        if self.owner.down:
            raise ChangeFeedUnavailable("the change log cannot be read")
        return ChangeBatch(xmin=self.owner.xmin, xmax=12, upto=after, changes=[])

    def close(self) -> None:
        pass


class Changes:
    def __init__(self) -> None:
        self.xmin = 10
        self.down = False
        self.reads = 0
        self.wake: Callable[[], None] = lambda: None

    async def connect(self, wake: Callable[[], None]) -> Feed:
        self.wake = wake
        return Feed(self)


async def synced(changes: Changes) -> None:
    reads = changes.reads
    changes.wake()
    for _ in range(50):
        await asyncio.sleep(0)
        if changes.reads > reads:
            break
    for _ in range(5):
        await asyncio.sleep(0)


async def test_trust_lasts_trust_s_from_the_last_sync_and_needs_a_ready_window() -> None:
    clock, changes = FakeClock(), Changes()
    key = secrets.token_bytes(32)
    register = CachedRegister(Source(), keyspace=KeySpace("t", key), codec=Codec(key), redis=None)
    listener = ChangeListener(changes, register.invalidator, poll_s=3600, trust_s=1.0, clock=clock)
    changes.xmin = 9  # a transaction older than the start is still running: not ready
    await register.listen(listener, wait_s=0.05)
    assert not register.cache_trusted() and not listener.cache_trusted()
    changes.xmin = 10
    await synced(changes)
    assert listener.cache_trusted() and register.cache_trusted()
    clock.now += 0.999
    assert listener.cache_trusted()
    changes.down = True
    await synced(changes)  # a failed sync does not extend the trust
    assert listener.cache_trusted()
    clock.now += 0.002
    assert not listener.cache_trusted()
    changes.down = False
    await synced(changes)
    assert listener.cache_trusted()
    await register.aclose()
