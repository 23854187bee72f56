"""The worker's side of bulk jobs in Postgres: claim a chunk, write its results, its audit
rows and the job's progress in one transaction; find jobs whose worker is gone.

A chunk is claimed with ``FOR UPDATE SKIP LOCKED`` (two workers never hold the same
chunk; a killed worker's lock goes with its connection) and is done when its
``job_results`` row exists. ``complete`` inserts that row with ``ON CONFLICT DO
NOTHING``: when a chunk was finished by someone else after our claim read it, nothing
is written and the transaction, with the audit rows already copied into it, rolls back.

The chunk's audit rows are one batch of a hash chain (verify/adapters/audit_chain.py),
sealed in the chunk's transaction: each chunk loop has a chain of its own, whose head
moves only when the transaction commits (a rollback leaves it where it was; a commit
whose outcome is unknown ends the chain, as the group-commit writer does).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from verify.adapters.audit import COLUMNS, _row
from verify.adapters.audit_chain import Chain
from verify.adapters.pg import connection
from verify.service.audit import AuditEntry

_START = """
UPDATE jobs SET state = 'running', started_at = coalesce(started_at, now()),
                progressed_at = now()
WHERE id = $1 AND state IN ('queued', 'running')
"""
_CLAIM = """
SELECT c.chunk_no, c.line_numbers, c.lines, j.agency_id, j.key_id, j.purpose
FROM jobs j JOIN job_chunks c ON c.job_id = j.id
WHERE j.id = $1 AND j.state = 'running' AND c.chunk_no > $2
  AND NOT EXISTS (SELECT 1 FROM job_results r
                  WHERE r.job_id = c.job_id AND r.chunk_no = c.chunk_no)
ORDER BY c.chunk_no
LIMIT 1
FOR UPDATE OF c SKIP LOCKED
"""
_RESULT = """
INSERT INTO job_results (job_id, chunk_no, n_lines, results) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
"""
_PROGRESS = """
UPDATE jobs SET
    lines_done = lines_done + $2, chunks_done = chunks_done + 1,
    n_match = n_match + $3, n_no_match = n_no_match + $4,
    n_not_found = n_not_found + $5, n_invalid = n_invalid + $6,
    progressed_at = now(),
    state = CASE WHEN state = 'running' AND chunks_done + 1 >= chunks_total
                 THEN 'done' ELSE state END,
    finished_at = CASE WHEN state = 'running' AND chunks_done + 1 >= chunks_total
                       THEN now() ELSE finished_at END
WHERE id = $1
RETURNING state
"""
# a finished job's input (personal data in clear) goes with its last chunk
_DROP_INPUT = "DELETE FROM job_chunks WHERE job_id = $1"
_DROP_CHUNK = "DELETE FROM job_chunks WHERE job_id = $1 AND chunk_no = $2"
_FAIL = """
UPDATE jobs SET state = 'failed', error = $2, finished_at = now()
WHERE id = $1 AND state IN ('queued', 'running')
"""
_STALE = """
SELECT id, chunks_done FROM jobs
WHERE state IN ('queued', 'running')
  AND coalesce(progressed_at, created_at) < now() - make_interval(secs => $1)
ORDER BY created_at LIMIT 100
"""
_GAUGES = """
SELECT count(*) FILTER (WHERE state = 'queued') AS queued,
       count(*) FILTER (WHERE state = 'running') AS running,
       coalesce(sum(lines_total - lines_done), 0) AS lines_waiting,
       coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest_age_s,
       coalesce(extract(epoch FROM now() - min(coalesce(progressed_at, created_at))), 0)
           AS stalest_s
FROM jobs WHERE state IN ('queued', 'running')
"""


class TxAudit:
    """The audit port on the chunk's transaction: rows commit with the results or not at all."""

    def __init__(self, chunk: PgChunk) -> None:
        self._chunk = chunk

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        chunk = self._chunk
        records, batch, head = chunk.chain.seal([_row(e) for e in entries])
        await chunk.conn.copy_records_to_table(
            "audit_log", records=records, columns=COLUMNS, timeout=chunk.timeout
        )
        chunk.sealed = (batch, head)  # the chain moves there once the transaction commits


@dataclass
class PgChunk:
    job_id: str
    agency_id: int
    key_id: str | None
    purpose: str
    chunk_no: int
    line_numbers: Sequence[int]
    lines: Sequence[bytes]
    conn: PoolConnectionProxy
    timeout: float
    chain: Chain
    completed: bool = False
    sealed: tuple[int, bytes] | None = None

    @property
    def audit(self) -> TxAudit:
        return TxAudit(self)

    async def complete(self, results: bytes, counts: dict[str, int]) -> bool:
        key, n = uuid.UUID(self.job_id), len(self.lines)
        status = await self.conn.execute(
            _RESULT, key, self.chunk_no, n, results, timeout=self.timeout
        )
        if status != "INSERT 0 1":
            return False
        tally = [counts.get(v, 0) for v in ("match", "no_match", "not_found", "invalid")]
        state = await self.conn.fetchval(_PROGRESS, key, n, *tally, timeout=self.timeout)
        if state == "done":
            await self.conn.execute(_DROP_INPUT, key, timeout=self.timeout)
        elif state == "cancelled":  # the cancel left this chunk's input: it was locked
            await self.conn.execute(_DROP_CHUNK, key, self.chunk_no, timeout=self.timeout)
        self.completed = True
        return True


async def _commit(tx: Any, chunk: PgChunk) -> None:
    try:
        await tx.commit()
    except BaseException:
        chunk.chain.restart()  # committed or not, unknown: this chain ends here
        raise
    if chunk.sealed is not None:
        chunk.chain.advance(*chunk.sealed)


@dataclass(frozen=True)
class JobGauges:
    queued: int
    running: int
    lines_waiting: int
    oldest_age_s: float
    stalest_s: float


class PgChunkSource:
    def __init__(self, pool: asyncpg.Pool, *, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._after: dict[str, int] = {}  # per job: chunks below were claimed by this process
        self._chains: list[Chain] = []  # idle chains, one per chunk loop at most

    async def start(self, job_id: str) -> bool:
        self._after.pop(job_id, None)
        async with connection(self._pool, self._timeout) as conn:
            status = await conn.execute(_START, uuid.UUID(job_id), timeout=self._timeout)
        return bool(status != "UPDATE 0")

    @asynccontextmanager
    async def claim(self, job_id: str) -> AsyncIterator[PgChunk | None]:
        chain = self._chains.pop() if self._chains else Chain()
        try:
            async with connection(self._pool, self._timeout) as conn:
                tx = conn.transaction()
                await tx.start()
                try:
                    chunk = await self._claim(conn, job_id, chain)
                    yield chunk
                except BaseException:
                    await tx.rollback()
                    raise
                if chunk is not None and chunk.completed:
                    await _commit(tx, chunk)
                else:
                    await tx.rollback()
        finally:
            self._chains.append(chain)

    async def _claim(self, conn: PoolConnectionProxy, job_id: str, chain: Chain) -> PgChunk | None:
        key, after = uuid.UUID(job_id), self._after.get(job_id, -1)
        row = await conn.fetchrow(_CLAIM, key, after, timeout=self._timeout)
        if row is None and after >= 0:  # once more from the start: chunks skipped as locked
            row = await conn.fetchrow(_CLAIM, key, -1, timeout=self._timeout)
        if row is None:
            return None
        self._after[job_id] = max(after, row["chunk_no"])
        return PgChunk(
            job_id, row["agency_id"], row["key_id"], row["purpose"], row["chunk_no"],
            row["line_numbers"], bytes(row["lines"]).split(b"\n"), conn, self._timeout, chain,
        )  # fmt: skip

    async def fail(self, job_id: str, error: str) -> None:
        async with connection(self._pool, self._timeout) as conn:
            await conn.execute(_FAIL, uuid.UUID(job_id), error, timeout=self._timeout)

    async def stale(self, stale_s: float) -> list[tuple[str, int]]:
        """Queued or running jobs without progress for ``stale_s``: (id, chunks done)."""
        async with connection(self._pool, self._timeout) as conn:
            rows = await conn.fetch(_STALE, stale_s, timeout=self._timeout)
        return [(str(r["id"]), r["chunks_done"]) for r in rows]

    async def gauges(self) -> JobGauges:
        async with connection(self._pool, self._timeout) as conn:
            row = await conn.fetchrow(_GAUGES, timeout=self._timeout)
        assert row is not None
        return JobGauges(
            row["queued"], row["running"], int(row["lines_waiting"]),
            float(row["oldest_age_s"]), float(row["stalest_s"]),
        )  # fmt: skip
