"""Use cases of bulk jobs for the API: submit an upload, read a job, cancel it, read results.

The store keeps inputs, progress and results in Postgres; the queue only wakes a
worker (a lost wake-up is repaired by the worker's sweeper), so submitting answers once
the input is durable, whether or not the queue took the job.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from verify.errors import ServiceError
from verify.service.job_input import Chunk

log = logging.getLogger("verify.jobs")

VERDICT_COUNTS = ("match", "no_match", "not_found", "invalid")


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = frozenset({JobState.QUEUED, JobState.RUNNING})


class JobNotFound(ServiceError):
    code = "not_found"


class JobTooLarge(ServiceError):
    code = "job_too_large"


class EmptyJob(ServiceError):
    code = "empty_job"


class QueueUnavailable(ServiceError):
    code = "queue_unavailable"


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    agency_id: int
    purpose: str
    state: JobState
    format: str
    lines_total: int
    lines_done: int
    counts: dict[str, int]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NewJob:
    agency_id: int
    key_id: str
    purpose: str
    format: str  # ndjson | csv
    idempotency_key: str | None


class JobStore(Protocol):
    async def submit(self, new: NewJob, chunks: AsyncIterator[Chunk]) -> tuple[Job, bool]:
        """Store the job and every chunk in one transaction; (job, True) once committed.
        With an idempotency key already used by the agency: (that job, False), the upload
        left unread."""
        ...

    async def get(self, agency_id: int, job_id: str) -> Job | None: ...

    async def cancel(self, agency_id: int, job_id: str) -> Job | None: ...

    def results(self, job_id: str, *, prefix: bool = False) -> AsyncIterator[bytes]:
        """The NDJSON results of the job's finished chunks, a chunk at a time, in order.
        ``prefix``: only the chunks before the first one not done yet (a running job's
        results so far, with no line missing among them)."""
        ...


class JobQueue(Protocol):
    async def enqueue(self, job_id: str) -> None:
        """Wake a worker for the job; raise QueueUnavailable when the queue cannot."""
        ...


async def _capped(chunks: AsyncIterator[Chunk], max_lines: int) -> AsyncIterator[Chunk]:
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > max_lines:
            raise JobTooLarge(f"a job holds at most {max_lines:,} lines")
        yield chunk
    if total == 0:
        raise EmptyJob("the upload holds no records")


async def submit_job(
    new: NewJob,
    chunks: AsyncIterator[Chunk],
    *,
    store: JobStore,
    queue: JobQueue,
    max_lines: int,
) -> tuple[Job, bool]:
    job, created = await store.submit(new, _capped(chunks, max_lines))
    if created or job.state in ACTIVE:
        try:
            await queue.enqueue(job.id)
        except QueueUnavailable:  # stored: the workers' sweeper enqueues it again
            log.warning("job stored, not enqueued", extra={"job_id": job.id})
    return job, created


async def get_job(agency_id: int, job_id: str, store: JobStore) -> Job:
    job = await store.get(agency_id, job_id)
    if job is None:  # another agency's job is no job at all
        raise JobNotFound("no such job")
    return job


async def cancel_job(agency_id: int, job_id: str, store: JobStore) -> Job:
    job = await store.cancel(agency_id, job_id)
    if job is None:
        raise JobNotFound("no such job")
    return job
