"""`verify seed`: a realistic synthetic population, by binary COPY.

The rows come from :mod:`verify.adapters.seed_gen` (numpy, deterministic per seed and chunk)
and are encoded by :mod:`verify.adapters.seed_copy`. Two ways to load them, same rows:

- small registers (below ``PARALLEL_FROM``), inline: one connection, one transaction, all
  or nothing. When the session is a superuser, ``SET LOCAL session_replication_role =
  replica``: no row triggers (version bumps, change log), no per-row foreign-key checks; else
  the ordinary triggers run (migration 002 spares the version bump per card).
- large registers, in parallel (:mod:`verify.adapters.seed_workers`): several worker
  processes, each generating chunks and COPYing them on its own connection, one transaction
  per chunk recorded in ``seed_chunks`` (migration 015), into tables stripped of their keys,
  indexes, foreign keys and user triggers, rebuilt at the end
  (:mod:`verify.adapters.seed_schema`). A run that fails part way keeps what it loaded: the
  same command resumes it (the same ``today`` is reused, so the rows are the same). Needs the
  tables' owner. While it runs the register has no keys: it is not for serving yet.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from tqdm import tqdm

from verify.adapters import seed_schema
from verify.adapters.seed_copy import Encoder
from verify.adapters.seed_gen import MAX_CITIZENS, Population, SeedError, chunk_sizes
from verify.adapters.seed_workers import CARD_COLUMNS, copy_chunk, run_workers

__all__ = [
    "CARD_COLUMNS",
    "CITIZEN_COLUMNS",
    "SeedError",
    "SeedReport",
    "register_is_empty",
    "seed_register",
    "unfinished_seed",
]

CITIZEN_COLUMNS = (  # the register's columns a load writes (tests insert rows by them)
    "id_number",
    "full_name",
    "birth_date",
    "birth_year_only",
    "gender",
    "deceased",
    "province_code",
    "address",
)
PARALLEL_FROM = 1_000_000  # below this, inline in one transaction is as fast and all or nothing


@dataclass(frozen=True, slots=True)
class SeedReport:
    citizens: int
    cards: int
    former_ids: int
    seconds: float
    citizens_per_s: float  # citizens loaded by this call / its duration
    triggers_bypassed: bool  # no row triggers, no per-row FK checks during the load
    resumed: bool = False
    load_seconds: float = 0.0  # of which loading rows (the rest: keys, indexes, statistics)


async def register_is_empty(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT NOT EXISTS (SELECT 1 FROM citizens)"))


async def unfinished_seed(conn: asyncpg.Connection) -> str | None:
    """The command that finishes an interrupted parallel seed, if there is one."""
    run = await seed_schema.unfinished(conn)
    return None if run is None else f"verify seed --count {run.citizens} --seed {run.seed}"


async def seed_register(
    conn: asyncpg.Connection,
    *,
    count: int,
    seed: int,
    today: dt.date,
    progress: bool = True,
    force_progress: bool = False,
    parallel: bool | None = None,
    dsn: str | None = None,
    jobs: int | None = None,
) -> SeedReport:
    """Generate and load ``count`` citizens with their cards and former IDs.

    Raises :class:`SeedError` when the register is not empty (and no unfinished run of this
    seed and count is there to resume). ``progress`` shows a tqdm bar on stderr when it is a
    terminal (``force_progress``: always). ``parallel`` (default: from ``PARALLEL_FROM`` on)
    needs ``dsn``, the URL of ``conn``'s database, for its ``jobs`` worker connections.
    """
    if not 0 <= count <= MAX_CITIZENS:
        raise SeedError(f"count must be between 0 and {MAX_CITIZENS:,}")
    if parallel is None:
        parallel = count >= PARALLEL_FROM and dsn is not None
    if not parallel:
        return await _seed_inline(conn, count, seed, today, _bar(count, progress, force_progress))
    if dsn is None:
        raise SeedError("a parallel seed needs the database URL")
    jobs = jobs or default_jobs()
    return await _seed_parallel(conn, dsn, count, seed, today, jobs, progress, force_progress)


def default_jobs() -> int:
    """Loaders: one more than the cores, so that a core never waits on a COPY round trip."""
    return (os.cpu_count() or 1) + 1


def _bar(count: int, progress: bool, force: bool, done: int = 0) -> tqdm[Any]:
    disable: bool | None = None if progress else True  # None: only on a terminal
    if force:
        disable = False
    return tqdm(
        total=count, initial=done, unit=" citizens", unit_scale=True, file=sys.stderr,
        disable=disable, smoothing=0.1,
    )  # fmt: skip


async def _seed_inline(
    conn: asyncpg.Connection, count: int, seed: int, today: dt.date, bar: tqdm[Any]
) -> SeedReport:
    started = time.perf_counter()
    totals = [0, 0, 0]
    async with conn.transaction():
        await conn.execute("LOCK TABLE citizens IN SHARE ROW EXCLUSIVE MODE")
        if not await register_is_empty(conn) or await seed_schema.unfinished(conn):
            raise SeedError("the register is not empty: seed loads only into an empty register")
        bypassed = await _bypass_triggers(conn)
        population = Population(seed, today)
        encoder = Encoder(population.t)
        with bar:
            for index, n in enumerate(chunk_sizes(count)):
                chunk = population.chunk(index, n)
                await copy_chunk(conn, encoder, chunk)
                totals = [a + b for a, b in zip(totals, chunk.counts, strict=True)]
                bar.update(n)
    await conn.execute("ANALYZE citizens, id_cards, former_ids")
    seconds = time.perf_counter() - started
    rate = count / seconds if seconds > 0 else 0.0
    return SeedReport(totals[0], totals[1], totals[2], seconds, rate, bypassed, False, seconds)


async def _bypass_triggers(conn: asyncpg.Connection) -> bool:
    """Replica mode for this transaction when allowed (superuser), else the ordinary path."""
    if await conn.fetchval("SELECT current_setting('is_superuser')") != "on":
        return False
    await conn.execute("SET LOCAL session_replication_role = replica")
    return True


async def _seed_parallel(
    conn: asyncpg.Connection, dsn: str, count: int, seed: int, today: dt.date, jobs: int,
    progress: bool, force_progress: bool,
) -> SeedReport:  # fmt: skip
    started = time.perf_counter()
    try:
        run = await seed_schema.begin_or_resume(conn, seed=seed, count=count, today=today)
    except asyncpg.InsufficientPrivilegeError as e:
        raise SeedError(f"a parallel seed needs the register tables' owner: {e}") from None
    except asyncpg.UndefinedTableError:
        raise SeedError("no seed_runs table: run `verify migrate` first") from None
    done = await conn.fetchval(
        "SELECT coalesce(sum(citizens), 0) FROM seed_chunks WHERE run_id = $1", run.id
    )
    with _bar(count, progress, force_progress, done) as bar:

        def on_chunk(citizens: int, cards: int, former: int) -> None:
            bar.update(citizens)

        if run.state == "loading":
            await run_workers(
                dsn, run_id=run.id, seed=run.seed, today=run.today, count=count, jobs=jobs,
                on_chunk=on_chunk,
            )  # fmt: skip
    loaded = time.perf_counter()
    sums = await conn.fetchrow(
        "SELECT coalesce(sum(citizens), 0) AS c, coalesce(sum(cards), 0) AS k,"
        " coalesce(sum(former_ids), 0) AS f FROM seed_chunks WHERE run_id = $1",
        run.id,
    )
    if sums is None or sums["c"] != count:
        raise SeedError(f"the workers loaded {sums and sums['c']} of {count} citizens")
    await seed_schema.rebuild(conn, dsn, run)
    seconds = time.perf_counter() - started
    rate = (count - done) / seconds if seconds > 0 else 0.0
    return SeedReport(
        count, sums["k"], sums["f"], seconds, rate, True, run.resumed, loaded - started
    )
