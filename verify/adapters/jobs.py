"""Bulk jobs in Postgres: uploads stored in chunks, job state, results read back in order.

An upload is one transaction (the job row, then its chunks as they arrive): a job is
visible only once all of its input is durable, and an interrupted upload leaves
nothing. The idempotency key is unique per agency, so a retry that races the first
upload waits for it and then returns its job.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from verify.adapters.pg import connection
from verify.errors import Overloaded
from verify.service.job_input import Chunk
from verify.service.jobs import Job, JobNotFound, JobState, NewJob

RESULT_PAGE_CHUNKS = 4

_INSERT_JOB = """
INSERT INTO jobs (id, agency_id, key_id, purpose, format, idempotency_key)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (agency_id, idempotency_key) DO NOTHING
RETURNING *
"""
_BY_KEY = "SELECT * FROM jobs WHERE agency_id = $1 AND idempotency_key = $2"
_INSERT_CHUNK = (
    "INSERT INTO job_chunks (job_id, chunk_no, line_numbers, lines) VALUES ($1, $2, $3, $4)"
)
_TOTALS = "UPDATE jobs SET lines_total = $2, chunks_total = $3 WHERE id = $1 RETURNING *"
_GET = "SELECT * FROM jobs WHERE id = $1 AND agency_id = $2"
_CANCEL = """
WITH cancelled AS (
    UPDATE jobs SET state = 'cancelled', finished_at = now()
    WHERE id = $1 AND agency_id = $2 AND state IN ('queued', 'running')
    RETURNING *
), dropped AS (
    -- the input (personal data in clear) is no longer needed; chunks a worker holds now
    -- are deleted by that worker as it commits (waiting for them could take a chunk's time)
    DELETE FROM job_chunks WHERE (job_id, chunk_no) IN (
        SELECT job_id, chunk_no FROM job_chunks
        WHERE job_id IN (SELECT id FROM cancelled) FOR UPDATE SKIP LOCKED)
)
SELECT * FROM cancelled
"""
_EXISTS = "SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1)"
_RESULTS = """
SELECT chunk_no, results FROM job_results
WHERE job_id = $1 AND chunk_no > $2 ORDER BY chunk_no LIMIT $3
"""


def job_from_row(row: asyncpg.Record) -> Job:
    return Job(
        id=str(row["id"]),
        agency_id=row["agency_id"],
        purpose=row["purpose"],
        state=JobState(row["state"]),
        format=row["format"],
        lines_total=row["lines_total"],
        lines_done=row["lines_done"],
        counts={
            "match": row["n_match"],
            "no_match": row["n_no_match"],
            "not_found": row["n_not_found"],
            "invalid": row["n_invalid"],
        },
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
    )


def _uuid(job_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(job_id)
    except ValueError:
        return None


class PgJobStore:
    """``max_uploads``: uploads in progress at once, each holding a pooled connection for
    its transaction; more are refused (503 ``overloaded``) so verify requests keep theirs."""

    def __init__(self, pool: asyncpg.Pool, *, timeout: float, max_uploads: int = 2) -> None:
        self._pool = pool
        self._timeout = timeout
        self._uploads = asyncio.Semaphore(max_uploads)

    async def submit(self, new: NewJob, chunks: AsyncIterator[Chunk]) -> tuple[Job, bool]:
        if self._uploads.locked():
            raise Overloaded("too many uploads in progress here", retry_after=5.0)
        async with self._uploads:
            return await self._submit(new, chunks)

    async def _submit(self, new: NewJob, chunks: AsyncIterator[Chunk]) -> tuple[Job, bool]:
        async with connection(self._pool, self._timeout) as conn, conn.transaction():
            args = (new.agency_id, new.key_id, new.purpose, new.format, new.idempotency_key)
            row = await conn.fetchrow(_INSERT_JOB, uuid.uuid4(), *args, timeout=self._timeout)
            if row is None:  # the key names an earlier upload of this agency
                existing = await conn.fetchrow(
                    _BY_KEY, new.agency_id, new.idempotency_key, timeout=self._timeout
                )
                assert existing is not None
                return job_from_row(existing), False
            lines = count = 0
            async for chunk in chunks:
                await conn.execute(
                    _INSERT_CHUNK, row["id"], count, chunk.line_numbers,
                    b"\n".join(chunk.lines), timeout=self._timeout,
                )  # fmt: skip
                lines, count = lines + len(chunk), count + 1
            done = await conn.fetchrow(_TOTALS, row["id"], lines, count, timeout=self._timeout)
            assert done is not None
            return job_from_row(done), True

    async def get(self, agency_id: int, job_id: str) -> Job | None:
        return await self._one(_GET, job_id, agency_id)

    async def cancel(self, agency_id: int, job_id: str) -> Job | None:
        cancelled = await self._one(_CANCEL, job_id, agency_id)
        return cancelled if cancelled is not None else await self.get(agency_id, job_id)

    async def _one(self, sql: str, job_id: str, *args: Any) -> Job | None:
        key = _uuid(job_id)
        if key is None:
            return None
        async with connection(self._pool, self._timeout) as conn:
            row = await conn.fetchrow(sql, key, *args, timeout=self._timeout)
        return job_from_row(row) if row is not None else None

    async def results(self, job_id: str, *, prefix: bool = False) -> AsyncIterator[bytes]:
        """A connection per page: a slow reader of the results holds none. Chunks are
        numbered from 0, so with ``prefix`` the first gap in their numbers ends it."""
        key, after = uuid.UUID(job_id), -1
        while True:
            async with connection(self._pool, self._timeout) as conn:
                rows = await conn.fetch(
                    _RESULTS, key, after, RESULT_PAGE_CHUNKS, timeout=self._timeout
                )
                # the last page: were the results all there, or was the job deleted by
                # retention between two pages (its results gone with it)?
                if len(rows) < RESULT_PAGE_CHUNKS and not await conn.fetchval(
                    _EXISTS, key, timeout=self._timeout
                ):
                    raise JobNotFound("the job was deleted (retention) while being read")
            for row in rows:
                if prefix and row["chunk_no"] != after + 1:
                    return
                yield row["results"]
                after = row["chunk_no"]
            if len(rows) < RESULT_PAGE_CHUNKS:
                return
