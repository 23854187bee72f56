"""The loaders of a parallel `verify seed`: worker processes, each with its own connection.

Worker w of W makes and loads the chunks k with k % W == w that the run has not loaded yet:
generate (numpy), binary COPY into the three tables, and record the chunk in ``seed_chunks``,
all in one transaction per chunk (``synchronous_commit = off``: a crash loses at most the
last chunks, together with their record, so a re-run loads them again). Each prints
``chunk citizens cards former_ids`` per committed chunk on stdout, which the parent turns into
the progress bar. Workers are plain ``python -c`` children: they never re-import the caller's
``__main__``, and the database URL reaches them in the environment, not on a command line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg

from verify.adapters.seed_copy import HEADER, TRAILER, Encoder
from verify.adapters.seed_gen import ChunkData, Population, SeedError, chunk_sizes

COPY_CITIZEN_COLUMNS = (  # the order of seed_copy's binary rows: fixed-width fields first
    "id_number",
    "birth_date",
    "birth_year_only",
    "gender",
    "deceased",
    "province_code",
    "address",  # its length ends the fixed-width head of the row
    "full_name",
    "card_issue",  # the cards of the person, as arrays (migration 013)
    "card_expiry",
    "card_status",
)
CARD_COLUMNS = ("id_number", "issue_date", "expiry_date", "status")
FORMER_COLUMNS = ("former_id", "id_number")
DSN_ENV = "VERIFY_SEED_DSN"
COPY_TIMEOUT_S = 600.0
_WORKER_CODE = (
    "import sys; from verify.adapters.seed_workers import worker_main; "
    "sys.exit(worker_main(sys.argv[1:]))"
)


async def copy_chunk(conn: asyncpg.Connection, encoder: Encoder, chunk: ChunkData) -> None:
    """The chunk's rows into the three tables, by binary COPY (inside the caller's transaction)."""
    _, cards, former = chunk.counts
    await _copy(conn, "citizens", COPY_CITIZEN_COLUMNS, encoder.citizens(chunk))
    if cards:
        await _copy(conn, "id_cards", CARD_COLUMNS, encoder.cards(chunk))
    if former:
        await _copy(conn, "former_ids", FORMER_COLUMNS, encoder.former(chunk))


async def _copy(
    conn: asyncpg.Connection, table: str, columns: tuple[str, ...], rows: bytes
) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield HEADER
        yield rows
        yield TRAILER

    await conn.copy_to_table(
        table, source=parts(), columns=columns, format="binary", timeout=COPY_TIMEOUT_S
    )


async def run_workers(
    dsn: str, *, run_id: int, seed: int, today: dt.date, count: int, jobs: int,
    on_chunk: Callable[[int, int, int], None],
) -> None:  # fmt: skip
    """Start ``jobs`` workers and wait for them; SeedError (others stopped) if one fails."""
    args = [str(run_id), str(seed), today.isoformat(), str(count), "", str(jobs)]
    procs = []
    try:
        for worker in range(jobs):
            args[4] = str(worker)
            procs.append(await asyncio.create_subprocess_exec(
                sys.executable, "-c", _WORKER_CODE, *args,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=_worker_env(dsn),
            ))  # fmt: skip
        await asyncio.gather(*(_follow(p, on_chunk) for p in procs))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def _follow(
    proc: asyncio.subprocess.Process, on_chunk: Callable[[int, int, int], None]
) -> None:
    assert proc.stdout is not None and proc.stderr is not None
    errors = asyncio.ensure_future(proc.stderr.read())
    async for line in proc.stdout:
        _, citizens, cards, former = (int(v) for v in line.split())
        on_chunk(citizens, cards, former)
    if await proc.wait() != 0:
        detail = (await errors).decode(errors="replace").strip().splitlines()[-3:]
        raise SeedError(
            f"a seed worker failed: {' / '.join(detail) or 'no output'}; what was committed "
            "stays: run the same command again to resume"
        )
    errors.cancel()


# glibc malloc: a chunk's arrays (tens of MB) from the heap, and kept there once freed. By
# default each is mmapped and unmapped again, so every chunk faulted its pages in anew: about
# a fifth of a loader's CPU went to the kernel (0.8 us per citizen, 0.2 with these), and the
# loader's size stays flat either way (it reuses the same memory chunk after chunk).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(256 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def _worker_env(dsn: str) -> dict[str, str]:
    """This environment, the database URL, the folder of the ``verify`` package importable,
    and the malloc settings above (unless the caller set them)."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    pythonpath = f"{root}{os.pathsep}{path}" if path else root
    return {**MALLOC_ENV, **os.environ, "PYTHONPATH": pythonpath, DSN_ENV: dsn}


def worker_main(argv: list[str]) -> int:
    """``RUN SEED TODAY COUNT WORKER WORKERS``: load this worker's missing chunks."""
    run_id, seed, today = int(argv[0]), int(argv[1]), dt.date.fromisoformat(argv[2])
    count, worker, workers = int(argv[3]), int(argv[4]), int(argv[5])
    try:
        asyncio.run(_load(os.environ[DSN_ENV], run_id, seed, today, count, worker, workers))
    except SeedError as e:
        print(e, file=sys.stderr)
        return 2
    except asyncpg.PostgresError as e:  # its message only: a DETAIL could quote a row
        print(f"PostgreSQL error {e.sqlstate}: {e.args[0] if e.args else ''}", file=sys.stderr)
        return 3
    except BrokenPipeError:  # the parent went away
        return 1
    return 0


async def _load(
    dsn: str, run_id: int, seed: int, today: dt.date, count: int, worker: int, workers: int
) -> None:
    conn = await asyncpg.connect(dsn, timeout=30)
    try:
        await conn.execute("SET synchronous_commit = off")
        done = {
            r["chunk"]
            for r in await conn.fetch("SELECT chunk FROM seed_chunks WHERE run_id = $1", run_id)
        }
        population = Population(seed, today)
        encoder = Encoder(population.t)
        for index, n in enumerate(chunk_sizes(count)):
            if index % workers != worker or index in done:
                continue
            chunk = population.chunk(index, n)
            async with conn.transaction():
                await copy_chunk(conn, encoder, chunk)
                await conn.execute(
                    "INSERT INTO seed_chunks VALUES ($1, $2, $3, $4, $5)",
                    run_id, index, *chunk.counts,
                )  # fmt: skip
            citizens, cards, former = chunk.counts
            print(index, citizens, cards, former, flush=True)
    finally:
        await conn.close(timeout=10)
