"""Rates of the audit chain's offline work on N legacy rows, in a throw-away embedded
PostgreSQL: the migration's chaining of rows written before the chain (rows/s) and
`verify audit verify` recomputing them (rows/s).

    .venv/bin/python -m loadtest.audit_verify_rate --rows 200000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import asyncpg

from verify import devservers
from verify.adapters.audit_verify import verify_audit
from verify.adapters.migrate import migrate

_ROWS_SQL = """
INSERT INTO audit_log (at, agency_id, request_id, kind, purpose, subject, verdict, latency_ms)
SELECT now() - (i || ' ms')::interval, 1, md5(i::text), 'verify', 'kyc', sha256(int4send(i)),
       'match', 1.5
FROM generate_series(1, $1) i
"""


async def _measure(pg: devservers.Postgres, rows: int) -> None:
    conn = await asyncpg.connect(pg.url, timeout=10, command_timeout=3600)
    try:
        await conn.execute("CREATE DATABASE audit_rate")
    finally:
        await conn.close()
    conn = await asyncpg.connect(pg.url_for("audit_rate"), timeout=10, command_timeout=3600)
    try:
        await migrate(conn)
        await conn.execute(_ROWS_SQL, rows)
        start = time.perf_counter()
        chained = await conn.fetchval("SELECT audit_chain_unchained(1000)")
        chaining = time.perf_counter() - start
        start = time.perf_counter()
        report = await verify_audit(conn)
        verifying = time.perf_counter() - start
    finally:
        await conn.close()
    print(f"{rows:,} legacy rows: chained at {chained / chaining:,.0f} rows/s; verified at "
          f"{report.rows / verifying:,.0f} rows/s ({report.batches:,} batches, intact: "
          f"{report.intact})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="audit-rate-") as tmp:
        pg = devservers.start_postgres(Path(tmp))
        try:
            asyncio.run(_measure(pg, args.rows))
        finally:
            devservers.stop_postgres(Path(tmp))


if __name__ == "__main__":
    main()
