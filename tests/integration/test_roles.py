"""The serving role (migration 005) can do what `verify serve` needs and nothing more.

Every e2e test already runs the app as this role (tests/conftest.py ``settings``), which
proves the grants suffice; here each statement that would let the API's credentials
rewrite or erase the audit, or change the schema, is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest

ROW = "(now(), 1, 'r1', 'verify', 'test', '\\x00'::bytea)"
INSERT = f"INSERT INTO audit_log (at, agency_id, request_id, kind, purpose, subject) VALUES {ROW}"


@pytest.fixture
async def serving(serving_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(serving_url, timeout=10)
    assert await conn.fetchval("SELECT current_user") == "verify_app"
    yield conn
    await conn.close()


def _today_partition() -> str:
    return f"audit_log_{dt.datetime.now(dt.UTC):%Y%m%d}"


async def test_serving_role_appends_and_reads_the_audit(serving: asyncpg.Connection) -> None:
    await serving.execute(INSERT)
    await serving.copy_records_to_table(
        "audit_log",
        records=[(dt.datetime.now(dt.UTC), 1, "r2", "verify", "test", b"\x01")],
        columns=["at", "agency_id", "request_id", "kind", "purpose", "subject"],
    )
    assert await serving.fetchval("SELECT count(*) FROM audit_log") == 2
    for table in ("citizens", "id_cards", "former_ids", "citizen_changes", "agencies"):
        await serving.fetchval(f"SELECT count(*) FROM {table}")
    await serving.fetchval("SELECT count(*) FROM api_keys")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET verdict = 'match'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log ADD COLUMN x int",
        "ALTER TABLE audit_log DETACH PARTITION audit_log_default",
        "DROP TABLE audit_log",
        "UPDATE {partition} SET verdict = 'match'",
        "DELETE FROM {partition}",
        "TRUNCATE {partition}",
        "ALTER TABLE {partition} ADD COLUMN x int",
        "DROP TABLE {partition}",
        "DELETE FROM audit_log_default",
        "SELECT * FROM {partition}",
        INSERT.replace("audit_log", "{partition}"),
        "CREATE TABLE sneaky (x int)",
        "CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "UPDATE api_keys SET rate_per_s = NULL",
        "INSERT INTO agencies (name) VALUES ('x')",
        "UPDATE citizens SET full_name = 'x'",
        "DELETE FROM citizen_changes",
        "SELECT audit_ensure_partitions(1)",
        # migration 020: making partitions and moving rows out of the default (owner only)
        "SELECT audit_make_partition(now() - interval '1 year', now() - interval '364 days')",
        "SELECT * FROM audit_partitions()",
        "SELECT * FROM audit_uncovered(now(), now() + interval '1 day')",
        "SELECT * FROM audit_partition_gaps(1)",
        "DELETE FROM audit_partition_drops",
        "ALTER ROLE verify_app SUPERUSER",
    ],
)
async def test_serving_role_is_refused(serving: asyncpg.Connection, statement: str) -> None:
    await serving.execute(INSERT)  # something to delete or change
    sql = statement.format(partition=_today_partition())
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await serving.execute(sql)
