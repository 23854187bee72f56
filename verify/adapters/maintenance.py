"""Retention: audit partitions made ahead and dropped after the retention period;
the cache change log pruned after a day.

Run by `verify maintenance` with the owner's URL (the Kubernetes CronJob, `make run`),
never by the server: the serving role may not drop anything. An advisory lock lets one
run at a time do it. Partitions are UTC days; ``audit_ensure_partitions`` (migration 020)
fills what no partition covers, so a partition made before 006 in the server's time zone
does not collide with the next UTC day, and rows that waited in ``audit_log_default``
(maintenance missed for longer than its look-ahead, or a gap after an old partition) are
moved, unchanged, into the partition made for them. Dropping a whole partition whose
upper bound is past retention is the only deletion the audit allows; each is recorded in
``audit_partition_drops`` with its row count and the last link of every chain in it, so
the next day's chains stay verifiable (`verify audit verify`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from verify.adapters.pg import Conn

_LOCK_ID = 0x5645_5249_4D41  # "VERIMA"
DAYS_AHEAD = 7
# The change log only feeds cache invalidation. A cached record lives at most its TTL
# (cache/keyspace.py: about an hour), so a change older than a day can no longer be behind
# any cached value, even for an instance that replays after a long outage.
CHANGE_LOG_KEEP = dt.timedelta(days=1)

_DROP_RECORD_SQL = """
INSERT INTO audit_partition_drops (day, partition, rows, heads, cut)
SELECT $1, $2, (SELECT count(*) FROM {table}),
       (SELECT coalesce(jsonb_object_agg(h.chain_id::text, jsonb_build_object(
                   'batch', h.chain_batch, 'link', encode(h.chain_link, 'hex'))), '{{}}'::jsonb)
        FROM (SELECT DISTINCT ON (chain_id) chain_id, chain_batch, chain_link FROM {table}
              WHERE chain_link IS NOT NULL ORDER BY chain_id, chain_batch DESC) h),
       {cut}
"""
# ``cut`` (migration 020): a chain's last batch in the partition that goes on after its
# upper bound (a zone-based partition from before 006), with its link from wherever its
# last row is. A batch spans one UTC day at most: the next day is as far as it can go.
# Only for a partition whose bound is not a UTC midnight: a UTC-day partition never cuts
# a batch, and recording cuts there would let a row the serving role inserted with chain
# columns of its choosing (and dated before the bound) make a forged batch "cut" and so
# accepted by its link after the drop.
_CUT_SQL = """(SELECT coalesce(jsonb_object_agg(c.chain_id::text, jsonb_build_object(
                   'batch', c.chain_batch, 'link', encode(c.link, 'hex'))), '{{}}'::jsonb)
        FROM (SELECT a.chain_id, a.chain_batch,
                     (array_agg(a.chain_link) FILTER (WHERE a.chain_link IS NOT NULL))[1] AS link
              FROM audit_log a
              JOIN (SELECT DISTINCT ON (chain_id) chain_id, chain_batch FROM {table}
                    WHERE chain_id IS NOT NULL ORDER BY chain_id, chain_batch DESC) last
                USING (chain_id, chain_batch)
              WHERE a.at >= $3::timestamptz AND a.at < $4::timestamptz + interval '1 day'
              GROUP BY a.chain_id, a.chain_batch
              HAVING bool_or(a.at >= $4::timestamptz)) c)"""
# (it names $3 and $4 all the same: the statement's parameters are the same either way)
_NO_CUT_SQL = "(SELECT '{}'::jsonb WHERE $3::timestamptz <= $4::timestamptz)"

_PARTITIONS_SQL = "SELECT name, lo, hi FROM audit_partitions()"  # the default excluded
_DEFAULT_ROWS_SQL = "SELECT count(*) FROM audit_log_default"


@dataclass(frozen=True)
class Partition:
    name: str
    lo: dt.datetime  # its bounds: [lo, hi)
    hi: dt.datetime

    @property
    def day(self) -> dt.date:
        """The UTC day it starts on (the day it is recorded under when dropped)."""
        return self.lo.astimezone(dt.UTC).date()


@dataclass(frozen=True)
class MaintenanceReport:
    created: int
    dropped: list[str]
    changes_pruned: int = 0
    skipped: bool = False  # another instance held the lock
    moved: int = 0  # rows moved out of the default partition into their day's
    in_default: int = 0  # rows still there: dated beyond the look-ahead (a clock or a bug)


def expired_partitions(
    partitions: Sequence[Partition], today: dt.date, retention_days: int
) -> list[Partition]:
    """Partitions wholly older than the retention period (their upper bound at or before
    the UTC midnight that starts it), oldest first: by bounds, not names, so a partition
    of a server's time zone (before 006) or a part of a day expires like a UTC day."""
    cutoff = dt.datetime.combine(today - dt.timedelta(days=retention_days), dt.time(), dt.UTC)
    return sorted((p for p in partitions if p.hi <= cutoff), key=lambda p: p.lo)


async def _drop_recorded(conn: Conn, partition: Partition) -> None:
    # the name comes from the catalogue (audit_partitions): quoted as an identifier
    table = '"' + partition.name.replace('"', '""') + '"'
    hi = partition.hi.astimezone(dt.UTC)
    cut = _NO_CUT_SQL if hi.time() == dt.time() else _CUT_SQL.format(table=table)
    await conn.execute(
        _DROP_RECORD_SQL.format(table=table, cut=cut), partition.day, partition.name,
        partition.lo, partition.hi,
    )  # fmt: skip
    await conn.execute(f"DROP TABLE {table}")


async def run_maintenance(conn: Conn, *, retention_days: int, today: dt.date) -> MaintenanceReport:
    # a transaction-level lock: released by COMMIT or ROLLBACK whatever happens, so a
    # failed run cannot leave it held on a pooled connection (our pool skips the reset)
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _LOCK_ID):
            return MaintenanceReport(0, [], skipped=True)
        waiting = await conn.fetchval(_DEFAULT_ROWS_SQL)
        # first: when it makes partitions it locks audit_log before anything else does
        created = await conn.fetchval("SELECT audit_ensure_partitions($1)", DAYS_AHEAD)
        left = await conn.fetchval(_DEFAULT_ROWS_SQL) if waiting else 0
        partitions = [Partition(*r) for r in await conn.fetch(_PARTITIONS_SQL)]
        dropped = expired_partitions(partitions, today, retention_days)
        for partition in dropped:
            await _drop_recorded(conn, partition)
        pruned = await conn.execute(
            "DELETE FROM citizen_changes WHERE changed_at < now() - $1::interval", CHANGE_LOG_KEEP
        )
    return MaintenanceReport(
        int(created), [p.name for p in dropped], int(str(pruned).rsplit(" ", 1)[-1]),
        moved=int(waiting) - int(left), in_default=int(left),
    )  # fmt: skip
