"""API keys and agencies in Postgres."""

from __future__ import annotations

import asyncpg

from verify.adapters.pg import DB_ERRORS, connection
from verify.errors import DatabaseUnavailable
from verify.service.auth import NewKey, Principal, StoredKey

_GET_SQL = """
SELECT k.key_id, k.agency_id, a.name, k.scopes, k.rate_per_s, k.burst, k.secret_hash,
       k.revoked_at IS NOT NULL AS revoked
FROM api_keys k JOIN agencies a ON a.id = k.agency_id
WHERE k.key_id = $1
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
        )
        return StoredKey(principal, bytes(row["secret_hash"]), row["revoked"])


async def create_key(
    conn: asyncpg.Connection,
    key: NewKey,
    *,
    agency: str,
    scopes: frozenset[str],
    rate_per_s: int | None,
    burst: int | None,
) -> None:
    async with conn.transaction():
        agency_id = await conn.fetchval(
            "INSERT INTO agencies (name) VALUES ($1)"
            " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            agency,
        )
        await conn.execute(
            "INSERT INTO api_keys (key_id, agency_id, secret_hash, scopes, rate_per_s, burst)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            key.key_id,
            agency_id,
            key.secret_hash,
            sorted(scopes),
            rate_per_s,
            burst,
        )


async def revoke_key(conn: asyncpg.Connection, key_id: str) -> bool:
    result = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", key_id
    )
    return str(result).endswith(" 1")
