"""asyncpg pools and the register store: batched lookups by ``= ANY($1::bigint[])``.

Every call has a timeout (pool acquire and the statement); driver errors become
:class:`verify.errors.DatabaseUnavailable`, chained with ``from e``.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from verify.adapters.records import from_row
from verify.domain.model import CitizenRecord
from verify.errors import DatabaseUnavailable

Conn = asyncpg.Connection | PoolConnectionProxy  # a plain or a pooled connection

# InternalClientError: a connection whose protocol state broke when its server died
# mid-operation (seen with Postgres SIGKILLed during an audit COPY): an outage, not a bug
DB_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)

# One read by primary key: the cards are on the citizen row (migration 013), ordered by
# issue date (NULL arrays: no card).
RECORDS_SQL = """
SELECT id_number, full_name, birth_date, birth_year_only, gender, deceased, version,
       card_issue, card_expiry, card_status
FROM citizens
WHERE id_number = ANY($1::bigint[])
"""

_ID_NUMBER = operator.attrgetter("id_number")
_FORMER_SQL = "SELECT former_id, id_number FROM former_ids WHERE former_id = ANY($1::bigint[])"


class NoResetConnection(asyncpg.Connection):
    """We never leave session state behind, so skip the reset query on release (~30%)."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(
    url: str, *, min_size: int, max_size: int, timeout_s: float, connect_timeout_s: float
) -> asyncpg.Pool:
    try:
        pool = await asyncpg.create_pool(
            url,
            min_size=min(min_size, max_size),
            max_size=max_size,
            command_timeout=timeout_s,
            timeout=connect_timeout_s,
            connection_class=NoResetConnection,
            server_settings={"application_name": "citizen-verify"},
        )
    except DB_ERRORS as e:
        raise DatabaseUnavailable("cannot connect to the database") from e
    assert pool is not None
    return pool


@asynccontextmanager
async def connection(
    pool: asyncpg.Pool, acquire_timeout: float
) -> AsyncIterator[PoolConnectionProxy]:
    """A pooled connection, acquired within ``acquire_timeout``; driver errors mapped to ours."""
    try:
        async with pool.acquire(timeout=acquire_timeout) as conn:
            yield conn
    except DB_ERRORS as e:
        raise DatabaseUnavailable("the database did not answer") from e


async def ping(pool: asyncpg.Pool, limit_s: float) -> None:
    """Raise DatabaseUnavailable unless the database answers within ``limit_s``."""
    async with connection(pool, limit_s) as conn:
        await conn.fetchval("SELECT 1", timeout=limit_s)


@dataclass(frozen=True, slots=True)
class PoolStats:
    size: int
    idle: int
    max_size: int
    waiting: int  # tasks blocked in acquire


def pool_stats(pool: asyncpg.Pool) -> PoolStats:
    """The pool's connections; ``waiting`` has no public call in asyncpg: read its queue."""
    queue = getattr(pool, "_queue", None)
    getters = getattr(queue, "_getters", ())
    waiting = sum(1 for waiter in getters if not waiter.done())
    return PoolStats(pool.get_size(), pool.get_idle_size(), pool.get_max_size(), waiting)


def format_id12(value: int) -> str:
    return f"{value:012d}"


def format_id9(value: int) -> str:
    return f"{value:09d}"


def record_from_row(row: asyncpg.Record) -> CitizenRecord:
    """A row of RECORDS_SQL (by position: a lookup by name per column shows in batch profiles)."""
    return from_row(row)


class PgRegister:
    """The register in Postgres. Reads go to the read pools (round robin) when there are any."""

    def __init__(self, pools: Sequence[asyncpg.Pool], *, timeout: float) -> None:
        self._pools = itertools.cycle(pools)
        self._timeout = timeout

    async def fetch_records(self, ids: list[str]) -> dict[str, CitizenRecord]:
        async with connection(next(self._pools), self._timeout) as conn:
            rows = await conn.fetch(RECORDS_SQL, list(map(int, ids)))
        records = list(map(from_row, rows))  # no comprehension frame: one C loop each
        return dict(zip(map(_ID_NUMBER, records), records, strict=True))

    async def resolve_former(self, former_ids: list[str]) -> dict[str, str]:
        async with connection(next(self._pools), self._timeout) as conn:
            rows = await conn.fetch(_FORMER_SQL, [int(i) for i in former_ids])
        return {format_id9(r["former_id"]): format_id12(r["id_number"]) for r in rows}
