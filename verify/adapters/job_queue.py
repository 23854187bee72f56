"""The arq queue that wakes `verify worker` for a job: names and the enqueue side.

arq is at-least-once and Postgres holds the truth (inputs, progress, results), so an arq
job is only "work on job X for a while": ids are ``<job>:<slice>`` so a slice's
continuation is a new arq job, and a duplicate wake-up costs one empty claim.
"""

from __future__ import annotations

from arq.connections import ArqRedis
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import RedisError

from verify.service.jobs import QueueUnavailable

RUN_JOB = "run_job"
ENQUEUE_TIMEOUT_S = 1.0


def queue_name(key_prefix: str) -> str:
    return f"{key_prefix}:jobs:queue"


def arq_redis(url: str, queue: str, *, timeout_s: float = ENQUEUE_TIMEOUT_S) -> ArqRedis:
    """A client that connects on first use (Redis down at start-up is not fatal)."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=8,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
    )
    return ArqRedis(pool, default_queue_name=queue)


async def enqueue_slice(redis: ArqRedis, job_id: str, slice_no: int) -> bool:
    """Enqueue ``run_job(job_id, slice_no)``; False when that arq job already exists."""
    try:
        job = await redis.enqueue_job(RUN_JOB, job_id, slice_no, _job_id=f"{job_id}:{slice_no}")
    except (RedisError, OSError, TimeoutError) as e:
        raise QueueUnavailable("the job queue is unavailable") from e
    return job is not None


class ArqJobQueue:
    """The API's side: wake a worker for a new job."""

    def __init__(self, redis: ArqRedis) -> None:
        self._redis = redis

    async def enqueue(self, job_id: str) -> None:
        await enqueue_slice(self._redis, job_id, 0)

    async def aclose(self) -> None:
        await self._redis.aclose(close_connection_pool=True)
