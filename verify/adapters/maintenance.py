"""Retention: daily audit partitions made ahead and dropped after the retention period;
the cache change log pruned after a day.

Run by `verify maintenance` and hourly by every server; an advisory lock lets one
instance at a time do it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from verify.adapters.pg import Conn

_LOCK_ID = 0x5645_5249_4D41  # "VERIMA"
_PARTITION = re.compile(r"^audit_log_(\d{8})$")
DAYS_AHEAD = 7
# The change log only feeds cache invalidation. A cached record lives at most its TTL
# (cache/keyspace.py: about an hour), so a change older than a day can no longer be behind
# any cached value, even for an instance that replays after a long outage.
CHANGE_LOG_KEEP = dt.timedelta(days=1)

_PARTITIONS_SQL = """
SELECT c.relname FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'audit_log'::regclass
"""


@dataclass(frozen=True)
class MaintenanceReport:
    created: int
    dropped: list[str]
    changes_pruned: int = 0
    skipped: bool = False  # another instance held the lock


def expired_partitions(names: list[str], today: dt.date, retention_days: int) -> list[str]:
    """Partitions whose whole day is older than the retention period."""
    cutoff = today - dt.timedelta(days=retention_days)
    expired = []
    for name in names:
        match = _PARTITION.match(name)
        if match and dt.datetime.strptime(match.group(1), "%Y%m%d").date() < cutoff:
            expired.append(name)
    return sorted(expired)


async def run_maintenance(conn: Conn, *, retention_days: int, today: dt.date) -> MaintenanceReport:
    # a transaction-level lock: released by COMMIT or ROLLBACK whatever happens, so a
    # failed run cannot leave it held on a pooled connection (our pool skips the reset)
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _LOCK_ID):
            return MaintenanceReport(0, [], skipped=True)
        created = await conn.fetchval("SELECT audit_ensure_partitions($1)", DAYS_AHEAD)
        names = [r["relname"] for r in await conn.fetch(_PARTITIONS_SQL)]
        dropped = expired_partitions(names, today, retention_days)
        for name in dropped:
            # the name comes from the catalogue and matched _PARTITION: safe to quote
            await conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        pruned = await conn.execute(
            "DELETE FROM citizen_changes WHERE changed_at < now() - $1::interval", CHANGE_LOG_KEEP
        )
    return MaintenanceReport(int(created), dropped, int(str(pruned).rsplit(" ", 1)[-1]))
