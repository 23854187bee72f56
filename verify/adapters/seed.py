"""`verify seed`: a realistic synthetic population, loaded by COPY in one transaction.

The rows come from :mod:`verify.adapters.seed_gen`, made inline or, for large counts, by
worker processes (:mod:`verify.adapters.seed_workers`) so that generation and COPY run on
all cores at once; the rows are the same either way.

Triggers: when the session is a superuser, the transaction runs with ``SET LOCAL
session_replication_role = replica``: no row triggers (version bumps, change log) and no
per-row foreign-key checks, the rows being consistent by construction; fine for the first
load of an empty register with an empty cache. Otherwise the ordinary triggers run (slower;
migration 002 spares the version bump per card of a person inserted in the same transaction).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from tqdm import tqdm

from verify.adapters.seed_gen import Chunk, SeedError
from verify.adapters.seed_workers import inline_chunks, worker_chunks

__all__ = ["SeedError", "SeedReport", "register_is_empty", "seed_register"]

PARALLEL_FROM = 100_000  # below this, starting worker processes costs more than it saves
CITIZEN_COLUMNS = (
    "id_number",
    "full_name",
    "birth_date",
    "birth_year_only",
    "gender",
    "deceased",
    "province_code",
    "address",
)
CARD_COLUMNS = ("id_number", "issue_date", "expiry_date", "status")
FORMER_COLUMNS = ("former_id", "id_number")


@dataclass(frozen=True, slots=True)
class SeedReport:
    citizens: int
    cards: int
    former_ids: int
    seconds: float
    citizens_per_s: float
    triggers_bypassed: bool  # replica mode (superuser): no row triggers, no per-row FK checks


async def register_is_empty(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT NOT EXISTS (SELECT 1 FROM citizens)"))


async def seed_register(
    conn: asyncpg.Connection,
    *,
    count: int,
    seed: int,
    today: dt.date,
    progress: bool = True,
    force_progress: bool = False,
    parallel: bool | None = None,
) -> SeedReport:
    """Generate and load ``count`` citizens with their cards and former IDs, all or nothing.

    Raises :class:`SeedError` when the register is not empty. ``progress`` shows a tqdm bar on
    stderr when it is a terminal (``force_progress``: always). ``parallel`` (default: by size)
    generates in a worker process while the previous chunk is copied; the rows are the same.
    """
    if count < 0:
        raise SeedError("count must not be negative")
    started = time.perf_counter()
    use_worker = parallel if parallel is not None else _worth_a_worker(count)
    source = worker_chunks if use_worker else inline_chunks
    async with conn.transaction():
        await _claim_empty_register(conn)
        bypassed = await _bypass_triggers(conn)
        with _progress_bar(count, progress, force_progress) as bar:
            async with source(seed, today, count) as chunks:
                totals = await _copy_all(conn, chunks, bar)
    await conn.execute("ANALYZE citizens, id_cards, former_ids")
    seconds = time.perf_counter() - started
    rate = count / seconds if seconds > 0 else 0.0
    return SeedReport(count, totals[1], totals[2], seconds, rate, bypassed)


def _worth_a_worker(count: int) -> bool:
    return count >= PARALLEL_FROM and (os.cpu_count() or 1) >= 2


async def _claim_empty_register(conn: asyncpg.Connection) -> None:
    """Lock out concurrent writers (readers go on), then insist on an empty register."""
    await conn.execute("LOCK TABLE citizens IN SHARE ROW EXCLUSIVE MODE")
    if not await register_is_empty(conn):
        raise SeedError("the register is not empty: seed loads only into an empty register")


async def _bypass_triggers(conn: asyncpg.Connection) -> bool:
    """Replica mode for this transaction when allowed (superuser), else the ordinary path."""
    if await conn.fetchval("SELECT current_setting('is_superuser')") != "on":
        return False
    await conn.execute("SET LOCAL session_replication_role = replica")
    return True


def _progress_bar(count: int, progress: bool, force: bool) -> tqdm[Any]:
    disable: bool | None = None if progress else True  # None: only on a terminal
    if force:
        disable = False
    return tqdm(total=count, unit=" citizens", unit_scale=True, file=sys.stderr, disable=disable)


async def _copy_all(
    conn: asyncpg.Connection, chunks: AsyncIterator[Chunk], bar: tqdm[Any]
) -> tuple[int, int, int]:
    citizens = cards = former_ids = 0
    async for chunk in chunks:
        await _copy_chunk(conn, chunk)
        citizens, cards = citizens + chunk.citizens, cards + chunk.cards
        former_ids += chunk.former_ids
        bar.update(chunk.citizens)
    return citizens, cards, former_ids


async def _copy_chunk(conn: asyncpg.Connection, chunk: Chunk) -> None:
    await conn.copy_to_table(
        "citizens", source=io.BytesIO(chunk.citizen_rows), columns=CITIZEN_COLUMNS
    )
    if chunk.cards:
        await conn.copy_to_table(
            "id_cards", source=io.BytesIO(chunk.card_rows), columns=CARD_COLUMNS
        )
    if chunk.former_ids:
        await conn.copy_to_table(
            "former_ids", source=io.BytesIO(chunk.former_rows), columns=FORMER_COLUMNS
        )
