"""Helpers for bulk-job tests: run a job to its end in process, read a job's audit rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import asyncpg

from cache.direct import DirectRegister
from cache.redis_client import create_client
from verify.adapters.job_chunks import PgChunkSource
from verify.adapters.pg import PgRegister
from verify.bootstrap import cache_settings_from
from verify.http.problems import problem_body
from verify.service.job_runner import RunnerDeps, SliceEnd, run_slice
from verify.service.verification import VerifyDeps
from verify.settings import Settings
from verify.worker import ChunkAuditOnly, attempt_limiter


async def run_to_end(
    settings: Settings,
    job_id: str,
    today: Callable[[], dt.date],
    concurrency: int = 2,
    max_chunks: int | None = None,
) -> SliceEnd:
    """What `verify worker` does for one job, in this process, until no chunk is left (or,
    with ``max_chunks``, once that many chunks are done)."""
    done: list[int] = []
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=6)
    assert pool is not None
    lookup = DirectRegister(PgRegister([pool], timeout=5.0))
    redis = create_client(cache_settings_from(settings))
    try:
        verify = VerifyDeps(
            lookup, ChunkAuditOnly(), settings.hmac_key.value, today,
            lambda: dt.datetime.now(dt.UTC), attempts=attempt_limiter(settings, redis),
            attempts_per_day=settings.subject_attempts_per_day,
        )  # fmt: skip
        deps = RunnerDeps(
            verify, PgChunkSource(pool, timeout=5.0), problem_body,
            on_chunk=lambda counts, seconds: done.append(1),
        )  # fmt: skip
        return await run_slice(
            job_id, deps, stop=lambda: max_chunks is not None and len(done) >= max_chunks,
            slice_s=60, concurrency=concurrency,
        )  # fmt: skip
    finally:
        await lookup.aclose()
        await redis.aclose()
        await pool.close()


async def audit_rows(db_url: str, job_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        return await conn.fetch(
            "SELECT kind, purpose, verdict FROM audit_log WHERE request_id = $1", job_id
        )
    finally:
        await conn.close()
