"""Retention of bulk jobs: a job finished more than VERIFY_JOB_RETENTION_DAYS ago is deleted,
with its results and whatever input it still holds (a failed job keeps its input).

Run by `verify maintenance` (the owner's URL), never by the server. The deletion goes in
bounded batches, each its own short transaction: at most ``batch_rows`` results rows and
as many input rows per transaction (a 1M-line job is ~500 results rows of ~100 kB), so a
backlog of big jobs never holds locks, WAL or memory for long. Jobs are picked with ``FOR
UPDATE SKIP LOCKED``: two runs at once share the work instead of waiting on each other.
The job row goes in the batch that leaves it no results and no input.

The job's audit rows stay: the audit is separate and append-only (its own retention drops
whole days, verify/adapters/maintenance.py). A pruned job is no job at all: GET answers
404 ``not_found``, as for an unknown id; a retried upload with its Idempotency-Key makes
a new job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from verify.adapters.pg import Conn

JOBS_PER_BATCH = 20
ROWS_PER_BATCH = 2_000

_EXPIRED = """
SELECT id FROM jobs
WHERE state IN ('done', 'failed', 'cancelled') AND finished_at < now() - $1::interval
ORDER BY finished_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""
_DROP_RESULTS = """
DELETE FROM job_results WHERE (job_id, chunk_no) IN (
    SELECT job_id, chunk_no FROM job_results WHERE job_id = ANY($1::uuid[]) LIMIT $2)
"""
_DROP_INPUT = """
DELETE FROM job_chunks WHERE (job_id, chunk_no) IN (
    SELECT job_id, chunk_no FROM job_chunks WHERE job_id = ANY($1::uuid[]) LIMIT $2)
"""
_DROP_JOBS = """
DELETE FROM jobs j WHERE j.id = ANY($1::uuid[])
  AND NOT EXISTS (SELECT 1 FROM job_results r WHERE r.job_id = j.id)
  AND NOT EXISTS (SELECT 1 FROM job_chunks c WHERE c.job_id = j.id)
"""


@dataclass(frozen=True)
class JobPruneReport:
    jobs: int = 0
    result_rows: int = 0
    input_rows: int = 0
    batches: int = 0


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def _batch(conn: Conn, keep: dt.timedelta, jobs: int, rows: int) -> JobPruneReport | None:
    """One transaction; None when no expired job is left (or all are being pruned by others)."""
    async with conn.transaction():
        ids = [r["id"] for r in await conn.fetch(_EXPIRED, keep, jobs)]
        if not ids:
            return None
        results = _count(await conn.execute(_DROP_RESULTS, ids, rows))
        inputs = _count(await conn.execute(_DROP_INPUT, ids, rows))
        dropped = _count(await conn.execute(_DROP_JOBS, ids))
    return JobPruneReport(dropped, results, inputs, 1)


async def prune_jobs(
    conn: Conn,
    *,
    retention_days: int,
    jobs_per_batch: int = JOBS_PER_BATCH,
    rows_per_batch: int = ROWS_PER_BATCH,
) -> JobPruneReport:
    """Delete the jobs finished more than ``retention_days`` ago, batch after batch."""
    keep = dt.timedelta(days=retention_days)
    total = JobPruneReport()
    while (done := await _batch(conn, keep, jobs_per_batch, rows_per_batch)) is not None:
        total = JobPruneReport(
            total.jobs + done.jobs,
            total.result_rows + done.result_rows,
            total.input_rows + done.input_rows,
            total.batches + 1,
        )
    return total
