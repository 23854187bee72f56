"""Retention of bulk jobs (`verify maintenance`): finished jobs past VERIFY_JOB_RETENTION_DAYS
are deleted with their results and input, in bounded batches; active and recent jobs, and
every job's audit rows, stay."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from verify.adapters.job_retention import prune_jobs
from verify.adapters.jobs import RESULT_PAGE_CHUNKS, PgJobStore
from verify.service.jobs import JobNotFound

CHUNKS = 5


async def _job(pool: asyncpg.Pool, agency: int, state: str, finished_days_ago: float | None) -> str:
    job_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO jobs (id, agency_id, purpose, format, state, lines_total, chunks_total,"
        " created_at, finished_at) VALUES ($1, $2, 'cleaning', 'ndjson', $3, $4, $5,"
        " now() - interval '30 days',"
        " CASE WHEN $6::float8 IS NULL THEN NULL ELSE now() - make_interval(days => 0,"
        " secs => $6::float8 * 86400) END)",
        job_id, agency, state, CHUNKS * 2, CHUNKS, finished_days_ago,
    )  # fmt: skip
    for n in range(CHUNKS):
        await pool.execute(
            "INSERT INTO job_results (job_id, chunk_no, n_lines, results) VALUES ($1, $2, 2, $3)",
            job_id, n, b'{"line":1}\n{"line":2}\n',
        )  # fmt: skip
    # a failed job keeps the input it did not finish; a running one holds all of it
    for n in range(CHUNKS if state in ("failed", "running") else 0):
        await pool.execute(
            "INSERT INTO job_chunks (job_id, chunk_no, line_numbers, lines)"
            " VALUES ($1, $2, $3, $4)",
            job_id, n, [1, 2], b"{}\n{}",
        )  # fmt: skip
    await pool.execute(
        "INSERT INTO audit_log (at, agency_id, request_id, kind) VALUES (now(), $1, $2, 'job')",
        agency, str(job_id),
    )  # fmt: skip
    return str(job_id)


async def _left(pool: asyncpg.Pool, table: str, job_id: str) -> int:
    column = "request_id" if table == "audit_log" else "job_id"
    cast = "" if table == "audit_log" else "::uuid"
    count: int = await pool.fetchval(
        f"SELECT count(*) FROM {table} WHERE {column} = $1{cast}", job_id
    )
    return count


async def test_expired_jobs_go_in_bounded_batches_and_the_rest_stays(
    pg_pool: asyncpg.Pool,
) -> None:
    agency = await pg_pool.fetchval("INSERT INTO agencies (name) VALUES ('moh') RETURNING id")
    expired = [
        await _job(pg_pool, agency, "done", 8),
        await _job(pg_pool, agency, "failed", 30),
        await _job(pg_pool, agency, "cancelled", 7.01),
    ]
    kept = [
        await _job(pg_pool, agency, "done", 6.9),  # within the retention period
        await _job(pg_pool, agency, "running", None),  # started a month ago, still active
    ]
    async with pg_pool.acquire() as conn:
        report = await prune_jobs(conn, retention_days=7, jobs_per_batch=2, rows_per_batch=3)
    assert (report.jobs, report.result_rows, report.input_rows) == (3, 3 * CHUNKS, CHUNKS)
    assert report.batches >= 4  # 5 results rows of a job never go in one batch of 3
    for job_id in expired:
        assert await pg_pool.fetchval("SELECT count(*) FROM jobs WHERE id = $1::uuid", job_id) == 0
        assert await _left(pg_pool, "job_results", job_id) == 0
        assert await _left(pg_pool, "job_chunks", job_id) == 0
        assert await _left(pg_pool, "audit_log", job_id) == 1  # the audit is append-only
    for job_id in kept:
        assert await pg_pool.fetchval("SELECT count(*) FROM jobs WHERE id = $1::uuid", job_id) == 1
        assert await _left(pg_pool, "job_results", job_id) == CHUNKS
    store = PgJobStore(pg_pool, timeout=5.0)
    assert await store.get(agency, expired[0]) is None  # GET /v1/jobs/{id}: 404 not_found
    assert await store.get(agency, kept[0]) is not None
    async with pg_pool.acquire() as conn:
        again = await prune_jobs(conn, retention_days=7)
    assert again.jobs == again.batches == 0


async def test_a_job_deleted_while_its_results_are_read_ends_the_read_with_an_error(
    pg_pool: asyncpg.Pool,
) -> None:
    """Results are read a page (a connection) at a time: a job deleted by retention between
    two pages must not look like a job whose results were all there."""
    agency = await pg_pool.fetchval("INSERT INTO agencies (name) VALUES ('mof') RETURNING id")
    job_id = await _job(pg_pool, agency, "done", 8)
    store = PgJobStore(pg_pool, timeout=5.0)
    read = []
    with pytest.raises(JobNotFound):
        async for blob in store.results(job_id):
            read.append(blob)
            if len(read) == 1:  # the first page is read: retention runs now
                async with pg_pool.acquire() as conn:
                    await prune_jobs(conn, retention_days=7)
    assert len(read) == RESULT_PAGE_CHUNKS  # the first page, then the error


async def test_a_job_whose_results_are_all_read_ends_without_an_error(
    pg_pool: asyncpg.Pool,
) -> None:
    agency = await pg_pool.fetchval("INSERT INTO agencies (name) VALUES ('moj') RETURNING id")
    job_id = await _job(pg_pool, agency, "done", 1)
    read = [blob async for blob in PgJobStore(pg_pool, timeout=5.0).results(job_id)]
    assert len(read) == CHUNKS
