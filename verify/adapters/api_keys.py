"""API keys and agencies in Postgres: the server reads them (serving role); the owner role
creates, lists, re-rates and revokes them (`verify keys`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from verify.adapters.pg import DB_ERRORS, Conn, connection
from verify.errors import DatabaseUnavailable
from verify.service.auth import NewKey, Principal, StoredKey

_GET_SQL = """
SELECT k.key_id, k.agency_id, a.name, k.scopes, k.rate_per_s, k.burst, k.secret_hash,
       k.revoked_at IS NOT NULL AS revoked, k.purposes, k.expires_at
FROM api_keys k JOIN agencies a ON a.id = k.agency_id
WHERE k.key_id = $1
"""

_LIST_SQL = """
SELECT k.key_id, a.name AS agency, k.scopes, k.purposes, k.rate_per_s, k.burst,
       k.created_at, k.expires_at, k.revoked_at
FROM api_keys k JOIN agencies a ON a.id = k.agency_id
ORDER BY a.name, k.created_at, k.key_id
"""


class PgKeyStore:
    def __init__(self, pool: asyncpg.Pool, *, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout

    async def get_key(self, key_id: str) -> StoredKey | None:
        async with connection(self._pool, self._timeout) as conn:
            try:
                row = await conn.fetchrow(_GET_SQL, key_id)
            except DB_ERRORS as e:
                raise DatabaseUnavailable("API key lookup failed") from e
        if row is None:
            return None
        principal = Principal(
            key_id=row["key_id"],
            agency_id=row["agency_id"],
            agency=row["name"],
            scopes=frozenset(row["scopes"]),
            rate_per_s=row["rate_per_s"],
            burst=row["burst"],
            purposes=tuple(row["purposes"]),
        )
        return StoredKey(principal, bytes(row["secret_hash"]), row["revoked"], row["expires_at"])


@dataclass(frozen=True)
class KeyInfo:
    """What `verify keys list` shows: never the secret or its hash."""

    key_id: str
    agency: str
    scopes: tuple[str, ...]
    purposes: tuple[str, ...]
    rate_per_s: int
    burst: int
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


async def create_key(
    conn: Conn,
    key: NewKey,
    *,
    agency: str,
    scopes: frozenset[str],
    rate_per_s: int,
    burst: int,
    purposes: tuple[str, ...] = (),
    expires_at: dt.datetime | None = None,
) -> None:
    async with conn.transaction():
        agency_id = await conn.fetchval(
            "INSERT INTO agencies (name) VALUES ($1)"
            " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            agency,
        )
        await conn.execute(
            "INSERT INTO api_keys (key_id, agency_id, secret_hash, scopes, rate_per_s, burst,"
            " purposes, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            key.key_id,
            agency_id,
            key.secret_hash,
            sorted(scopes),
            rate_per_s,
            burst,
            list(purposes),
            expires_at,
        )


async def list_keys(conn: Conn) -> list[KeyInfo]:
    return [
        KeyInfo(
            r["key_id"],
            r["agency"],
            tuple(r["scopes"]),
            tuple(r["purposes"]),
            r["rate_per_s"],
            r["burst"],
            r["created_at"],
            r["expires_at"],
            r["revoked_at"],
        )
        for r in await conn.fetch(_LIST_SQL)
    ]


async def set_rate(conn: Conn, key_id: str, rate_per_s: int, burst: int) -> bool:
    result = await conn.execute(
        "UPDATE api_keys SET rate_per_s = $2, burst = $3 WHERE key_id = $1",
        key_id,
        rate_per_s,
        burst,
    )
    return str(result).endswith(" 1")


async def revoke_key(conn: Conn, key_id: str) -> bool:
    result = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", key_id
    )
    return str(result).endswith(" 1")
