"""`make bench BENCH_ARGS="--register 100M"`: verify on a national-size register, caches cold.

The register is seeded once into its own database (``verify_bench_100m``) by `verify seed` and
reused by later runs. Then one case: POST /v1/verify with the caches off on random IDs across
the whole register, with its throughput and p99, the database's size on disk, and how many of
the Postgres page reads during the window missed shared buffers (``pg_stat_database``).

Claims for such a register are drawn from the seed's own generator (the run's seed and day are
in ``seed_runs``): 100 chunks spread over the register, 2,000 people from each. Sampling the
table instead would read the very pages the case then asks for, and warm them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
from pathlib import Path

import asyncpg
import numpy as np
import orjson

from loadtest.bench import claims
from verify.adapters.seed_gen import Population, chunk_sizes

CHUNKS = 100
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")


def parse_size(text: str) -> int:
    """``100M`` -> 100,000,000; ``500k``; a plain number."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"not a register size: {text!r} (e.g. 100M, 10M, 500k)")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * factor)


def label(count: int) -> str:
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}m"
    return f"{count // 1_000}k" if count % 1_000 == 0 else str(count)


async def _run_of(url: str, count: int) -> tuple[int, dt.date] | None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        if await conn.fetchval("SELECT to_regclass('seed_runs')") is None:
            return None
        row = await conn.fetchrow(
            "SELECT seed, today FROM seed_runs WHERE state = 'done' AND citizens = $1"
            " ORDER BY id DESC LIMIT 1",
            count,
        )
        return None if row is None else (int(row["seed"]), row["today"])
    finally:
        await conn.close(timeout=10)


def generated_claims(seed: int, today: dt.date, count: int, size: int) -> list[dict[str, object]]:
    """``size`` claims of people of the register, from ``CHUNKS`` chunks spread over it."""
    population = Population(seed, today)
    t = population.t
    given = [*t.male_names, *t.female_names]
    sizes = chunk_sizes(count)
    rng = random.Random(seed)
    picked = sorted(rng.sample(range(len(sizes)), min(CHUNKS, len(sizes))))
    per_chunk = -(-size // len(picked))
    out: list[dict[str, object]] = []
    for index in picked:
        chunk = population.chunk(index, sizes[index])
        p, cards = chunk.people, chunk.cards
        last = np.r_[cards.id_number[1:] != cards.id_number[:-1], True]
        current = dict(zip(cards.id_number[last].tolist(), cards.issue[last].tolist(), strict=True))
        for i in rng.sample(range(len(p.id_number)), min(per_chunk, len(p.id_number))):
            birth = dt.date.fromordinal(int(p.birth[i]) + dt.date(1970, 1, 1).toordinal())
            claim: dict[str, object] = {
                "id_number": f"{int(p.id_number[i]):012d}",
                "full_name": f"{t.families[p.family[i]]} {given[p.given[i]]}",
                "date_of_birth": str(birth.year) if p.year_only[i] else birth.isoformat(),
                "gender": "female" if p.female[i] else "male",
                "purpose": "bench",
            }
            issue = current.get(int(p.id_number[i]))
            if issue is not None:
                claim["card_issue_date"] = (dt.date(1970, 1, 1) + dt.timedelta(issue)).isoformat()
            out.append(claim)
    rng.shuffle(out)
    return out[:size]


def export(url: str, folder: Path, *, count: int, size: int, batch_items: int) -> claims.Bodies:
    """The bodies of the register case: from the generator when the seed run is known."""
    run = asyncio.run(_run_of(url, count))
    if run is None:  # an inline (small) seed: a table sample is fine there
        return claims.export(
            url, folder, register_size=count, size=size, hot=1, batches=1,
            batch_items=batch_items,
        )  # fmt: skip
    found = generated_claims(run[0], run[1], count, size)
    bodies = claims.Bodies(
        folder / "random.ndjson", folder / "hot.ndjson", folder / "batch.ndjson",
        len(found), 1, batch_items,
    )  # fmt: skip
    for path, rows in ((bodies.random_ids, found), (bodies.hot, found[:1])):
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    bodies.batches.write_bytes(orjson.dumps({"items": found[:batch_items]}) + b"\n")
    return bodies


async def _seeded(url: str, count: int) -> dict[str, object]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        if await conn.fetchval("SELECT to_regclass('seed_runs')") is None:
            return {}
        row = await conn.fetchrow(
            "SELECT started_at, finished_at,"
            " extract(epoch FROM finished_at - started_at)::float8 AS seconds"
            " FROM seed_runs WHERE state = 'done' AND citizens = $1 ORDER BY id DESC LIMIT 1",
            count,
        )
    finally:
        await conn.close(timeout=10)
    if row is None or not row["seconds"]:
        return {}
    return {
        "seed_started_at": row["started_at"].isoformat(timespec="seconds"),
        "seed_seconds": round(row["seconds"], 1),
        "seed_citizens_per_s": round(count / row["seconds"]),
    }


def seeded(url: str, count: int) -> dict[str, object]:
    """When the register's (parallel) seed ran and how long it took, from ``seed_runs``: the
    load and the rebuild of keys and indexes, from its start to its end (a resumed run counts
    from its first start). Empty for an inline seed, which keeps no record."""
    return asyncio.run(_seeded(url, count))


async def _stats(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        row = await conn.fetchrow(
            "SELECT pg_database_size(current_database()) AS size, blks_read, blks_hit"
            " FROM pg_stat_database WHERE datname = current_database()"
        )
        assert row is not None
        return {k: int(row[k]) for k in ("size", "blks_read", "blks_hit")}
    finally:
        await conn.close(timeout=10)


def stats(url: str) -> dict[str, int]:
    """The database's size on disk (bytes) and its page reads so far (misses, hits)."""
    return asyncio.run(_stats(url))
