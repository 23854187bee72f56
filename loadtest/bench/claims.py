"""Request bodies for wrk, made from real register entries: one JSON body per line.

The claims hold the person's name, birth date, gender and current card, so the
whole verify path runs (lookup, name and date matching, card rules, audit). The
files hold (synthetic) personal data: they are written to the run's temporary
folder and removed with it, never to loadtest/results/.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import orjson

# A uniform sample of the whole register (BERNOULLI reads every page, ~2 s for 10M).
_SAMPLE_SQL = """
SELECT c.id_number, c.full_name, c.birth_date, c.birth_year_only, c.gender,
       (SELECT max(issue_date) FROM id_cards k WHERE k.id_number = c.id_number) AS issue
FROM citizens c TABLESAMPLE BERNOULLI ($1) REPEATABLE ($2)
"""
OVERSAMPLE = 1.3


@dataclass(frozen=True)
class Bodies:
    random_ids: Path  # (b), (d): one claim per line, ids uniformly random over the register
    hot: Path  # (a), (c): a small hot set
    batches: Path  # (e): {"items": [...]} of ``batch_items`` claims per line
    count: int
    hot_count: int
    batch_items: int


def _claim(row: asyncpg.Record) -> dict[str, object]:
    birth = row["birth_date"]
    claim: dict[str, object] = {
        "id_number": f"{row['id_number']:012d}",
        "full_name": row["full_name"],
        "date_of_birth": str(birth.year) if row["birth_year_only"] else birth.isoformat(),
        "gender": "male" if row["gender"] == b"M" else "female",
        "purpose": "bench",
    }
    if row["issue"] is not None:
        claim["card_issue_date"] = row["issue"].isoformat()
    return claim


async def _sample(url: str, size: int, register_size: int, seed: int) -> list[dict[str, object]]:
    percent = min(100.0, 100.0 * OVERSAMPLE * size / max(register_size, 1))
    conn = await asyncpg.connect(url, timeout=10, command_timeout=300)
    try:
        rows = await conn.fetch(_SAMPLE_SQL, percent, seed)
    finally:
        await conn.close(timeout=10)
    claims = [_claim(r) for r in rows]
    random.Random(seed).shuffle(claims)
    return claims[:size]


def _write(path: Path, bodies: list[object]) -> None:
    with path.open("wb") as f:
        for body in bodies:
            f.write(orjson.dumps(body) + b"\n")


def export(
    url: str, folder: Path, *, register_size: int, size: int, hot: int, batches: int,
    batch_items: int, seed: int = 42,
) -> Bodies:  # fmt: skip
    claims = asyncio.run(_sample(url, size, register_size, seed))
    if len(claims) < max(hot, batch_items):
        raise RuntimeError(f"the register sample is too small ({len(claims)} claims)")
    rng = random.Random(seed)
    bodies = Bodies(
        folder / "random.ndjson", folder / "hot.ndjson", folder / "batch.ndjson",
        len(claims), hot, batch_items,
    )  # fmt: skip
    _write(bodies.random_ids, list(claims))
    _write(bodies.hot, list(claims[:hot]))
    _write(bodies.batches, [{"items": rng.sample(claims, batch_items)} for _ in range(batches)])
    return bodies
