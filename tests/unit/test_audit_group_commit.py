"""The writer's group commit, against an in-memory pool whose commits finish when the test
says: no answer before its commit, one commit per tick while a slot is idle, rows gathered
while every slot is busy, a failed commit failing only its group."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import cast

import asyncpg
import orjson
import pytest

from verify.adapters.audit import PgAuditWriter
from verify.adapters.audit_chain import COPY_COLUMNS
from verify.errors import DatabaseUnavailable
from verify.service.audit import AuditEntry

AT = dt.datetime(2026, 11, 30, 4, 5, 6, tzinfo=dt.UTC)


@dataclass
class Commit:
    request_ids: list[str]
    chain_id: uuid.UUID
    batch: int
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: Exception | None = None


class FakeConn:
    def __init__(self, pool: FakePool) -> None:
        self._pool = pool
        self.terminated = False

    def terminate(self) -> None:
        self.terminated = True
        self._pool.terminated += 1

    async def execute(
        self, sql: str, rows: str, chain_id: uuid.UUID, first: int, end: int | list[int],
        link: bytes | list[bytes], **options: float,
    ) -> str:  # fmt: skip
        assert sql.lstrip().startswith("INSERT INTO audit_log")
        found = orjson.loads(rows)  # canonical rows: the request id is the fourth value
        ends = end if isinstance(end, list) else [end]  # several UTC days: one per batch
        assert ends[-1] == len(found) and len(link if isinstance(link, list) else [link]) == len(
            ends
        )
        await self._commit([r[3] for r in found], chain_id, first + len(ends) - 1)
        return f"INSERT 0 {len(found)}"

    # the COPY path (verify/adapters/audit_rows.copy): asyncpg's internals it uses
    async def _prepare(self, sql: str, **options: object) -> SimpleNamespace:
        assert sql.startswith("SELECT NULL::")
        return SimpleNamespace(_state=None)

    @property
    def _protocol(self) -> FakeConn:
        return self

    async def copy_in(
        self, sql: str, reader: None, data: None, records: list[tuple[object, ...]],
        state: None, wait: float,
    ) -> str:  # fmt: skip
        assert sql.startswith("COPY audit_log (")
        column = {name: i for i, name in enumerate(COPY_COLUMNS)}
        last = records[-1]
        assert last[column["chain_link"]] is not None
        chain_id = uuid.UUID(bytes=cast(bytes, last[column["chain_id"]]))
        batch = cast(int, last[column["chain_batch"]])
        await self._commit([cast(str, r[column["request_id"]]) for r in records], chain_id, batch)
        return f"COPY {len(records)}"

    async def _commit(self, request_ids: list[str], chain_id: uuid.UUID, batch: int) -> None:
        commit = Commit(request_ids, chain_id, batch)
        self._pool.commits.append(commit)
        self._pool.started.set()
        await commit.done.wait()
        if commit.error is not None:
            raise commit.error


class FakePool:
    def __init__(self) -> None:
        self.commits: list[Commit] = []
        self.started = asyncio.Event()
        self.acquired = 0
        self.released = 0
        self.terminated = 0
        # as asyncpg's: giving back a live connection resets it (which waits on a stalled
        # server); a terminated one is given back at once
        self.reset_done = asyncio.Event()
        self.reset_done.set()

    def acquire(self, **options: float) -> AbstractAsyncContextManager[FakeConn]:
        return self._connection()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[FakeConn]:
        self.acquired += 1
        conn = FakeConn(self)
        try:
            yield conn
        finally:
            if not conn.terminated:
                await self.reset_done.wait()
            self.released += 1

    async def commit_started(self, count: int) -> None:
        """Wait until ``count`` commits have begun (a deadline, never a sleep)."""
        async with asyncio.timeout(5):
            while len(self.commits) < count:
                self.started.clear()
                await self.started.wait()


def entry(request_id: str) -> AuditEntry:
    return AuditEntry(AT, 1, request_id, "verify", "kyc", b"\x01" * 32, "match", None, 1.5)


def writer(pool: FakePool, slots: int = 2, spill_rows: int = 64) -> PgAuditWriter:
    """Commits of up to 2 rows by INSERT, larger ones by COPY: the tests' groups go both ways."""
    return PgAuditWriter(
        cast(asyncpg.Pool, pool), timeout=5.0, max_in_flight=slots, spill_rows=spill_rows,
        copy_rows=3,
    )  # fmt: skip


async def ticks(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_an_answer_waits_for_its_commit_and_one_tick_is_one_commit() -> None:
    pool = FakePool()
    w = writer(pool)
    a = asyncio.ensure_future(w.record([entry("a1"), entry("a2")]))
    b = asyncio.ensure_future(w.record([entry("b")]))
    await pool.commit_started(1)
    await ticks()
    assert [c.request_ids for c in pool.commits] == [["a1", "a2", "b"]]
    assert not a.done() and not b.done()  # not before the commit
    pool.commits[0].done.set()
    await asyncio.gather(a, b)


async def test_rows_gather_while_every_slot_is_busy() -> None:
    pool = FakePool()
    w = writer(pool, slots=2, spill_rows=1)  # any row waiting starts an idle slot
    first = asyncio.ensure_future(w.record([entry("1")]))
    await pool.commit_started(1)
    second = asyncio.ensure_future(w.record([entry("2")]))
    await pool.commit_started(2)
    later = []
    for name in ("3", "4", "5"):  # three ticks while both slots commit
        later.append(asyncio.ensure_future(w.record([entry(name)])))
        await ticks()
    assert len(pool.commits) == 2 and len(w._tasks) == 2  # no task per tick
    pool.commits[1].done.set()  # the second slot finishes first: it takes all three
    await second
    await pool.commit_started(3)
    assert pool.commits[2].request_ids == ["3", "4", "5"]
    assert pool.commits[2].chain_id == pool.commits[1].chain_id  # the same slot goes on
    assert pool.commits[2].batch == pool.commits[1].batch + 1
    assert not any(f.done() for f in later)
    pool.commits[2].done.set()
    await asyncio.gather(*later)
    assert not first.done()
    pool.commits[0].done.set()
    await first
    await ticks()
    assert not w._tasks  # every slot idle again


async def test_a_failed_commit_fails_its_group_only_and_ends_its_chain() -> None:
    pool = FakePool()
    w = writer(pool, slots=1)
    ok = asyncio.ensure_future(w.record([entry("ok")]))
    await pool.commit_started(1)
    failing = asyncio.ensure_future(w.record([entry("lost")]))
    await ticks()
    pool.commits[0].done.set()
    await ok
    await pool.commit_started(2)
    pool.commits[1].error = OSError("connection reset")
    pool.commits[1].done.set()
    with pytest.raises(DatabaseUnavailable):
        await failing
    after = asyncio.ensure_future(w.record([entry("after")]))
    await pool.commit_started(3)
    pool.commits[2].done.set()
    await after
    assert pool.commits[0].chain_id == pool.commits[1].chain_id
    assert (pool.commits[2].chain_id, pool.commits[2].batch) != (pool.commits[1].chain_id, 3)
    assert pool.commits[2].batch == 1  # a new chain, its outcome unknown for the old one


async def test_a_cancelled_request_still_has_its_rows_committed() -> None:
    pool = FakePool()
    w = writer(pool)
    gone = asyncio.ensure_future(w.record([entry("gone")]))
    stays = asyncio.ensure_future(w.record([entry("stays")]))
    await pool.commit_started(1)
    gone.cancel()
    await ticks()
    pool.commits[0].done.set()
    await stays
    assert gone.cancelled()
    assert pool.commits[0].request_ids == ["gone", "stays"]


async def test_closing_commits_what_is_queued_then_refuses() -> None:
    pool = FakePool()
    w = writer(pool)
    queued = asyncio.ensure_future(w.record([entry("queued")]))
    await asyncio.sleep(0)  # recorded; its tick's dispatch has not run yet
    closing = asyncio.ensure_future(w.aclose())
    await pool.commit_started(1)
    pool.commits[0].done.set()
    await asyncio.gather(queued, closing)
    with pytest.raises(DatabaseUnavailable):
        await w.record([entry("late")])


async def test_nothing_to_record_waits_for_nothing() -> None:
    pool = FakePool()
    await writer(pool).record([])
    assert pool.commits == []


async def test_an_observer_failing_neither_strands_answers_nor_breaks_the_chain() -> None:
    def broken(*args: float) -> None:
        raise OSError("no space left on device")  # e.g. a multiprocess metrics file

    pool = FakePool()
    w = PgAuditWriter(
        cast(asyncpg.Pool, pool),
        timeout=5.0,
        max_in_flight=1,
        on_commit=broken,
        on_depth=broken,
        on_failure=broken,
    )
    first = asyncio.ensure_future(w.record([entry("1")]))
    await pool.commit_started(1)
    pool.commits[0].done.set()
    await asyncio.wait_for(first, 5)  # answered: its commit is durable
    second = asyncio.ensure_future(w.record([entry("2")]))
    await pool.commit_started(2)
    assert (pool.commits[1].chain_id, pool.commits[1].batch) == (
        pool.commits[0].chain_id,
        pool.commits[0].batch + 1,
    )  # the chain moved on after the first commit, observer or not
    pool.commits[1].error = OSError("connection reset")
    pool.commits[1].done.set()
    with pytest.raises(DatabaseUnavailable):
        await asyncio.wait_for(second, 5)
    third = asyncio.ensure_future(w.record([entry("3")]))
    await pool.commit_started(3)
    pool.commits[2].done.set()
    await asyncio.wait_for(third, 5)


async def test_a_slot_keeps_its_connection_for_commits_back_to_back() -> None:
    pool = FakePool()
    w = writer(pool, slots=1)
    first = asyncio.ensure_future(w.record([entry("1")]))
    await pool.commit_started(1)
    second = asyncio.ensure_future(w.record([entry("2")]))  # waits for the one slot
    await ticks()
    pool.commits[0].done.set()
    await first
    await pool.commit_started(2)
    assert (pool.acquired, pool.released) == (1, 0)  # the second commit, the same connection
    pool.commits[1].error = OSError("connection reset")  # a failed commit gives it back
    third = asyncio.ensure_future(w.record([entry("3")]))
    await ticks()
    pool.commits[1].done.set()
    with pytest.raises(DatabaseUnavailable):
        await second
    await pool.commit_started(3)
    assert (pool.acquired, pool.released) == (2, 1)  # a fresh one for the next commit
    pool.commits[2].done.set()
    await third
    await ticks()
    assert (pool.acquired, pool.released) == (2, 2) and not w._tasks  # idle: given back


async def test_rows_gather_while_one_commit_is_in_flight_until_a_backlog() -> None:
    pool = FakePool()
    w = writer(pool, slots=2, spill_rows=3)
    first = asyncio.ensure_future(w.record([entry("1")]))
    await pool.commit_started(1)
    gathered = asyncio.ensure_future(w.record([entry("2")]))
    await ticks()
    assert len(pool.commits) == 1 and len(w._tasks) == 1  # one waiting row: no second commit
    backlog = asyncio.ensure_future(w.record([entry("3"), entry("4")]))
    await pool.commit_started(2)  # three waiting: another slot takes them beside the first
    assert pool.commits[1].request_ids == ["2", "3", "4"]
    assert pool.commits[1].chain_id != pool.commits[0].chain_id
    pool.commits[1].done.set()
    await asyncio.gather(gathered, backlog)
    late = asyncio.ensure_future(w.record([entry("5")]))
    await ticks()
    assert len(pool.commits) == 2  # the first is still in flight: the row gathers
    pool.commits[0].done.set()
    await first
    await pool.commit_started(3)  # the first slot takes it when its commit is done
    assert (pool.commits[2].request_ids, pool.commits[2].chain_id) == (
        ["5"],
        pool.commits[0].chain_id,
    )
    pool.commits[2].done.set()
    await late
    await ticks()
    assert not w._tasks


async def test_after_a_spill_the_writer_is_back_to_one_commit_in_flight() -> None:
    pool = FakePool()
    w = writer(pool, slots=2, spill_rows=3)
    first = asyncio.ensure_future(w.record([entry("1")]))
    await pool.commit_started(1)
    backlog = asyncio.ensure_future(w.record([entry("2"), entry("3"), entry("4")]))
    await pool.commit_started(2)  # the spill: a second slot beside the first
    one = asyncio.ensure_future(w.record([entry("5")]))
    await ticks()
    pool.commits[1].done.set()  # the spill's slot is done; the first commit is in flight
    await backlog
    await ticks()
    assert len(pool.commits) == 2 and len(w._tasks) == 1  # it went idle, leaving the row
    pool.commits[0].done.set()
    await first
    await pool.commit_started(3)  # the last busy slot takes it
    assert (pool.commits[2].request_ids, pool.commits[2].chain_id) == (
        ["5"],
        pool.commits[0].chain_id,
    )
    pool.commits[2].done.set()
    await one


async def test_a_single_row_does_not_wait_behind_a_large_commit() -> None:
    pool = FakePool()
    w = writer(pool, slots=2, spill_rows=3)
    batch = asyncio.ensure_future(w.record([entry(f"b{i}") for i in range(3)]))
    await pool.commit_started(1)
    single = asyncio.ensure_future(w.record([entry("s")]))
    await pool.commit_started(2)  # beside the batch's commit, not after it
    assert pool.commits[1].request_ids == ["s"]
    pool.commits[1].done.set()
    await single
    assert not batch.done()
    pool.commits[0].done.set()
    await batch


async def test_a_failed_commit_closes_its_connection_instead_of_resetting_it() -> None:
    """Behind a stalled server a graceful release waits out the query's cancellation: the
    rows that gathered meanwhile would wait for it. A failed commit's connection is closed
    at once and the next commit starts without waiting for any reset."""
    pool = FakePool()
    w = writer(pool, slots=1)
    failing = asyncio.ensure_future(w.record([entry("lost")]))
    await pool.commit_started(1)
    waiting = asyncio.ensure_future(w.record([entry("next")]))
    await ticks()
    pool.reset_done.clear()  # a reset would hang from now on
    pool.commits[0].error = OSError("connection reset")
    pool.commits[0].done.set()
    with pytest.raises(DatabaseUnavailable):
        await failing
    await pool.commit_started(2)
    assert pool.terminated == 1
    pool.reset_done.set()
    pool.commits[1].done.set()
    await waiting
