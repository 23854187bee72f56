"""What a parallel `verify seed` strips from the register for the load, and puts back after.

Before the load: the primary keys, unique constraints, indexes and foreign keys of the three
register tables (and foreign keys of other tables pointing at them) are read from the catalog,
stored as DDL in the run's ``seed_runs.deferred`` (migration 015) and dropped; the tables' user
triggers (version bumps, change log) are disabled, and autovacuum too (it would scan them again
and again as they grow). After the load they are rebuilt: keys and indexes of each table on its
own connection in parallel (``maintenance_work_mem`` raised for those sessions, Postgres adding
its parallel maintenance workers), then the foreign keys as NOT VALID (enforced for new rows;
the loaded ones are consistent by construction, and ``VALIDATE CONSTRAINT`` can check them
later without blocking readers or writers), then triggers and autovacuum. Each step is skipped
when already there, so a run that died while rebuilding is finished by running it again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass

import asyncpg

from verify.adapters.seed_gen import SeedError

TABLES = ("citizens", "id_cards", "former_ids")
MAINTENANCE_WORK_MEM = "1GB"  # per rebuilding session; the machine has 24 GB
BUILD_TIMEOUT_S = 3600.0

_CONSTRAINTS = """
SELECT c.conname AS name, c.conrelid::regclass::text AS tbl, c.contype::text AS kind,
       pg_get_constraintdef(c.oid) AS def
FROM pg_constraint c
WHERE (c.conrelid = ANY($1::regclass[]) AND c.contype IN ('p', 'u', 'f'))
   OR (c.confrelid = ANY($1::regclass[]) AND c.contype = 'f')
ORDER BY c.contype = 'f', c.conname"""
_INDEXES = """
SELECT i.indexrelid::regclass::text AS name, i.indrelid::regclass::text AS tbl,
       pg_get_indexdef(i.indexrelid) AS def
FROM pg_index i
WHERE i.indrelid = ANY($1::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                  WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
ORDER BY 1"""


@dataclass(frozen=True, slots=True)
class Deferred:
    name: str
    table: str
    kind: str  # "p", "u" (constraints with their index), "i" (plain index), "f" (foreign key)
    sql: str


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    seed: int
    citizens: int
    today: dt.date
    state: str
    deferred: tuple[Deferred, ...]
    triggers_disabled: tuple[str, ...]
    resumed: bool


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def unfinished(conn: asyncpg.Connection) -> Run | None:
    if await conn.fetchval("SELECT to_regclass('seed_runs')") is None:
        return None
    row = await conn.fetchrow(
        "SELECT id, seed, citizens, today, state, deferred::text AS deferred, triggers_disabled"
        " FROM seed_runs WHERE state <> 'done'"
    )
    if row is None:
        return None
    items = tuple(Deferred(**d) for d in json.loads(row["deferred"]))
    return Run(
        row["id"], row["seed"], row["citizens"], row["today"], row["state"], items,
        tuple(row["triggers_disabled"]), resumed=True,
    )  # fmt: skip


async def capture(conn: asyncpg.Connection) -> list[Deferred]:
    out = []
    for r in await conn.fetch(_CONSTRAINTS, list(TABLES)):
        sql = f"ALTER TABLE {r['tbl']} ADD CONSTRAINT {_ident(r['name'])} {r['def']}"
        if r["kind"] == "f":  # enforced from now on; the loaded rows are consistent by
            sql += " NOT VALID"  # construction (VALIDATE CONSTRAINT reads them all)
        out.append(Deferred(r["name"], r["tbl"], r["kind"], sql))
    for r in await conn.fetch(_INDEXES, list(TABLES)):
        out.append(Deferred(r["name"], r["tbl"], "i", r["def"]))
    return out


async def begin_or_resume(
    conn: asyncpg.Connection, *, seed: int, count: int, today: dt.date
) -> Run:
    """The unfinished run of this seed and count, or a new one on an empty register, stripped."""
    async with conn.transaction():
        await conn.execute("LOCK TABLE seed_runs IN EXCLUSIVE MODE")
        run = await unfinished(conn)
        if run is not None:
            if (run.seed, run.citizens) != (seed, count):
                raise SeedError(
                    f"an unfinished seed (--count {run.citizens} --seed {run.seed}) is in this "
                    "register: run that command again to finish it"
                )
            return run
        await conn.execute("LOCK TABLE citizens, id_cards, former_ids IN ACCESS EXCLUSIVE MODE")
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM citizens)"):
            raise SeedError("the register is not empty: seed loads only into an empty register")
        deferred = await capture(conn)
        run_id = await conn.fetchval(
            "INSERT INTO seed_runs (seed, citizens, today, state, deferred, triggers_disabled)"
            " VALUES ($1, $2, $3, 'loading', $4::jsonb, $5) RETURNING id",
            seed, count, today, json.dumps([_as_dict(d) for d in deferred]), list(TABLES),
        )  # fmt: skip
        for d in reversed(deferred):  # foreign keys first, then the keys they lean on
            if d.kind == "i":
                await conn.execute(f"DROP INDEX {d.name}")
            else:
                await conn.execute(f"ALTER TABLE {d.table} DROP CONSTRAINT {_ident(d.name)}")
        for table in TABLES:  # no change log, no version bumps; no vacuum racing the load
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            await conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    return Run(run_id, seed, count, today, "loading", tuple(deferred), TABLES, resumed=False)


def _as_dict(d: Deferred) -> dict[str, str]:
    return {"name": d.name, "table": d.table, "kind": d.kind, "sql": d.sql}


async def _exists(conn: asyncpg.Connection, d: Deferred) -> bool:
    if d.kind == "i":
        return await conn.fetchval("SELECT to_regclass($1)", d.name) is not None
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1"
            " AND conrelid = $2::regclass)",
            d.name,
            d.table,
        )
    )


async def _apply(dsn: str, items: list[Deferred]) -> None:
    conn = await asyncpg.connect(dsn, timeout=30, command_timeout=BUILD_TIMEOUT_S)
    try:
        await conn.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        for d in items:
            if not await _exists(conn, d):
                await conn.execute(d.sql)
    finally:
        await conn.close(timeout=10)


async def rebuild(conn: asyncpg.Connection, dsn: str, run: Run) -> None:
    """Keys and indexes per table in parallel, then foreign keys, triggers, statistics."""
    await conn.execute("UPDATE seed_runs SET state = 'building' WHERE id = $1", run.id)
    by_table: dict[str, list[Deferred]] = {}
    for d in run.deferred:
        if d.kind != "f":
            by_table.setdefault(d.table, []).append(d)
    await asyncio.gather(*(_apply(dsn, items) for items in by_table.values()))
    foreign = [d for d in run.deferred if d.kind == "f"]
    await asyncio.gather(*(_apply(dsn, [d]) for d in foreign))
    for table in run.triggers_disabled:
        await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        await conn.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")
    await conn.execute("ANALYZE citizens, id_cards, former_ids")
    await conn.execute(
        "UPDATE seed_runs SET state = 'done', finished_at = now() WHERE id = $1", run.id
    )
