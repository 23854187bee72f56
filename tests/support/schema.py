"""A database as an older release left it: the starting point of an upgrade test."""

from __future__ import annotations

import asyncpg

from verify.adapters.migrate import available


async def migrated_before(conn: asyncpg.Connection, version: int) -> None:
    """Apply the migrations numbered below ``version`` and record them as `verify migrate`
    does, so that ``migrate`` then applies ``version`` and what follows: the upgrade."""
    await conn.execute(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    for m in available():
        if m.version < version:
            await conn.execute(m.sql)
            await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", m.version, m.name)
