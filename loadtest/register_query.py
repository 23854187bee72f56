"""Postgres CPU per ID of the register lookup: today's RECORDS_SQL against the LATERAL it replaced.

Both queries run on the same database (id_cards is still the table of record, so the old
aggregate still answers), on the same random IDs, one after the other on one connection. The
cost is the backend's own CPU (utime + stime from /proc/<pid>/stat, so the server must run on
this machine), divided by the IDs asked: parsing, planning, execution and sending the rows.

    python -m loadtest.register_query --dsn postgresql://postgres@127.0.0.1:PORT/DB
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time

import asyncpg

from verify.adapters.pg import RECORDS_SQL

LATERAL_SQL = """
SELECT c.id_number, c.full_name, c.birth_date, c.birth_year_only, c.gender, c.deceased,
       c.version, k.issue, k.expiry, k.status
FROM citizens c
LEFT JOIN LATERAL (
    SELECT array_agg(issue_date ORDER BY issue_date) AS issue,
           array_agg(expiry_date ORDER BY issue_date) AS expiry,
           array_agg(status ORDER BY issue_date) AS status
    FROM id_cards WHERE id_cards.id_number = c.id_number
) k ON true
WHERE c.id_number = ANY($1::bigint[])
"""
QUERIES = {"lateral (before 013)": LATERAL_SQL, "RECORDS_SQL (013)": RECORDS_SQL}
TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def measure(dsn: str, batches: list[int], ids_per_run: int) -> None:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        sample = await conn.fetch("SELECT id_number FROM citizens TABLESAMPLE SYSTEM (2)")
        ids = [r[0] for r in sample]
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        for batch in batches:
            total = max(batch, ids_per_run // (1 if batch >= 100 else 10))
            for name, sql in QUERIES.items():
                rnd = random.Random(batch)
                for _ in range(10):  # warm: prepared statement, generic plan, pages
                    await conn.fetch(sql, rnd.sample(ids, batch))
                cpu0, wall0, asked = backend_cpu_s(pid), time.perf_counter(), 0
                while asked < total:
                    await conn.fetch(sql, rnd.sample(ids, batch))
                    asked += batch
                cpu = backend_cpu_s(pid) - cpu0
                wall = time.perf_counter() - wall0
                print(
                    f"batch {batch:5,d}  {name:22s} Postgres CPU {1e6 * cpu / asked:7.2f} us/ID"
                    f"  wall {1e6 * wall / asked:7.2f} us/ID  ({asked:,} IDs)"
                )
    finally:
        await conn.close(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dsn", required=True, help="a seeded register, migrated to 013+")
    parser.add_argument("--batches", default="1000,16,1", help="IDs per query")
    parser.add_argument("--ids", type=int, default=200_000, help="IDs per measurement")
    args = parser.parse_args()
    asyncio.run(measure(args.dsn, [int(b) for b in args.batches.split(",")], args.ids))


if __name__ == "__main__":
    main()
