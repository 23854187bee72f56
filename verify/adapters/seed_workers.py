"""Where the chunks of `verify seed` are made: inline, or in worker processes.

Workers are plain `python -c` children writing framed chunks to stdout; worker w makes the
chunks k with k % workers == w. A pipe's back-pressure keeps each about one chunk ahead, and
unlike multiprocessing's spawn they never re-import the caller's __main__. The chunks come out
in order and the same either way (:mod:`verify.adapters.seed_gen`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import struct
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from verify.adapters.seed_gen import Chunk, Population, SeedError, chunk_sizes

MAX_WORKERS = 4
_FRAME = struct.Struct("!6Q")  # citizens, cards, former_ids, then the three byte lengths
_WORKER_CODE = (
    "import sys; from verify.adapters.seed_workers import worker_main; "
    "sys.exit(worker_main(sys.argv[1:]))"
)


@asynccontextmanager
async def inline_chunks(
    seed: int, today: dt.date, count: int
) -> AsyncIterator[AsyncIterator[Chunk]]:
    population = Population(seed, today)

    async def generate() -> AsyncIterator[Chunk]:
        for index, n in enumerate(chunk_sizes(count)):
            yield population.chunk(index, n)

    yield generate()


@asynccontextmanager
async def worker_chunks(
    seed: int, today: dt.date, count: int
) -> AsyncIterator[AsyncIterator[Chunk]]:
    n_chunks = len(chunk_sizes(count))
    workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1, n_chunks))
    procs: list[asyncio.subprocess.Process] = []
    try:
        for worker in range(workers):
            procs.append(await _start_worker(seed, today, count, worker, workers))
        yield _read_chunks(procs, n_chunks)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def _start_worker(
    seed: int, today: dt.date, count: int, worker: int, workers: int
) -> asyncio.subprocess.Process:
    args = (str(seed), today.isoformat(), str(count), str(worker), str(workers))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WORKER_CODE, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_worker_env(),
    )  # fmt: skip


def _worker_env() -> dict[str, str]:
    """This process's environment, with the folder holding the ``verify`` package importable."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{path}" if path else root}


async def _read_chunks(
    procs: list[asyncio.subprocess.Process], n_chunks: int
) -> AsyncIterator[Chunk]:
    for index in range(n_chunks):
        yield await _read_chunk(procs[index % len(procs)])


async def _read_chunk(proc: asyncio.subprocess.Process) -> Chunk:
    assert proc.stdout is not None and proc.stderr is not None
    try:
        head = _FRAME.unpack(await proc.stdout.readexactly(_FRAME.size))
        rows = [await proc.stdout.readexactly(length) for length in head[3:]]
    except asyncio.IncompleteReadError:
        detail = (await proc.stderr.read()).decode(errors="replace").strip()
        raise SeedError(f"a seed worker failed: {detail or 'no output'}") from None
    return Chunk(rows[0], rows[1], rows[2], head[0], head[1], head[2])


def worker_main(argv: list[str]) -> int:
    """A worker process: ``SEED TODAY COUNT WORKER WORKERS`` -> its chunks on stdout, in order."""
    seed, today, count = int(argv[0]), dt.date.fromisoformat(argv[1]), int(argv[2])
    worker, workers = int(argv[3]), int(argv[4])
    population = Population(seed, today)
    out = sys.stdout.buffer
    try:
        for index, n in enumerate(chunk_sizes(count)):
            if index % workers == worker:
                chunk = population.chunk(index, n)
                rows = (chunk.citizen_rows, chunk.card_rows, chunk.former_rows)
                out.write(_FRAME.pack(*chunk[3:], *map(len, rows)))
                out.write(b"".join(rows))
                out.flush()
    except SeedError as e:
        print(e, file=sys.stderr)
        return 2
    except BrokenPipeError:  # the loader went away
        return 1
    return 0
