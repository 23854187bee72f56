"""`verify worker`: runs bulk jobs from the arq queue, chunk by chunk, exactly once per line.

An arq job is one *slice* of a bulk job: up to VERIFY_JOB_SLICE seconds of chunks, after
which the slice enqueues its continuation (jobs of several agencies take turns, and
arq's per-job timeout stays short). Exactly-once lives in Postgres (see
verify/adapters/job_chunks.py); arq is at-least-once and only wakes workers up.

- SIGTERM drains: no new arq job is taken, running slices stop at their next chunk
  boundary and enqueue their continuation, then the worker exits (within
  VERIFY_JOB_DRAIN seconds; Kubernetes' grace period must be longer).
- A killed worker's chunk transactions roll back and its locks go with its connections.
  Its slice comes back through arq (after the slice timeout), and sooner through the
  sweeper: every worker enqueues again the queued or running jobs that have not
  committed a chunk for VERIFY_JOB_STALE seconds (a lost enqueue is repaired the same way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from arq import Retry
from arq.worker import Worker, func
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cache.breaker import Breaker
from cache.direct import DirectRegister
from cache.redis_client import RedisClient, create_client
from verify import gc_tuning, logs
from verify.adapters.attempts import RedisAttemptLimiter
from verify.adapters.clock import LocalToday, utc_now
from verify.adapters.gcra_batch import BULK_DEADLINE_S, ChargeBatcher
from verify.adapters.gcra_redis import redis_sender
from verify.adapters.job_chunks import PgChunkSource
from verify.adapters.job_queue import RUN_JOB, arq_redis, enqueue_slice, queue_name
from verify.adapters.pg import DB_ERRORS, PgRegister, create_pool
from verify.bootstrap import cache_settings_from
from verify.errors import DatabaseUnavailable
from verify.http.problems import problem_body
from verify.service.audit import AuditEntry
from verify.service.job_runner import RunnerDeps, SliceEnd, run_slice
from verify.service.jobs import QueueUnavailable
from verify.service.verification import VerifyDeps
from verify.settings import Settings
from verify.worker_metrics import WorkerMetrics

log = logging.getLogger("verify.worker")
MAX_JOBS = 2  # arq jobs (slices) at once per worker; each has job_concurrency chunks in flight
SWEEP_SLICE_BASE = 1_000_000_000  # sweeper's slice numbers: apart from continuations'


class ChunkAuditOnly:
    """Job audit rows are written in each chunk's transaction, never through this."""

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        raise RuntimeError("a job chunk's audit goes through its own transaction")


@dataclass
class Runtime:
    settings: Settings
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    draining: bool = False
    deps: RunnerDeps | None = None
    chunks: PgChunkSource | None = None
    closers: list[Any] = field(default_factory=list)


async def _open(ctx: dict[str, Any]) -> None:
    rt: Runtime = ctx["runtime"]
    s = rt.settings
    # per chunk in flight: its transaction, and up to two lookup queries; one for the sweeper
    in_flight = MAX_JOBS * s.job_concurrency
    pool = await create_pool(
        s.database_url, min_size=s.db_pool_min, max_size=max(s.db_pool_max, 3 * in_flight + 1),
        timeout_s=s.db_timeout_s, connect_timeout_s=s.db_connect_timeout_s,
    )  # fmt: skip
    source = PgRegister([pool], timeout=s.db_timeout_s)
    register = DirectRegister(source, max_batch=s.lookup_batch_max)
    rt.chunks = PgChunkSource(pool, timeout=s.db_timeout_s)
    today = LocalToday(zoneinfo.ZoneInfo(s.timezone))  # Vietnam's calendar day
    redis = create_client(cache_settings_from(s))  # the probing limit's, as serve's
    batcher = charge_batcher(s, redis)
    attempts = RedisAttemptLimiter(
        batcher, prefix=s.redis_key_prefix, hmac_key=s.hmac_key.value,
        on_fallback=rt.metrics.limiter_local.labels("attempts").inc,
    )  # fmt: skip
    verify = VerifyDeps(
        register, ChunkAuditOnly(), s.hmac_key.value, today, utc_now,
        attempts=attempts, attempts_per_day=s.subject_attempts_per_day,
    )  # fmt: skip
    rt.deps = RunnerDeps(
        verify, rt.chunks, problem_body, rt.metrics.observe_chunk, rt.metrics.observe_refused
    )
    # closed last to first: the batcher's charges in flight end before its Redis client
    rt.closers += [register.aclose, pool.close, redis.aclose, batcher.aclose]
    loop = asyncio.get_running_loop()
    ctx["sweeper"] = loop.create_task(_sweep_forever(rt, ctx["redis"]), name="job-sweeper")
    gc_tuning.settle(s.gc_gen0)  # a chunk keeps ~30,000 objects alive: see gc_tuning


def charge_batcher(s: Settings, client: RedisClient) -> ChargeBatcher:
    """The per-person probing limit's charges, on the same Redis buckets as `verify serve`'s
    (a job's lines and the agency's API calls spend one allowance): those of all chunks in
    flight go to Redis in one round trip per event-loop tick, each bounded by the deadline;
    the worker's close waits for any in flight (``aclose``) before closing the client."""
    return ChargeBatcher(
        redis_sender(client), breaker=Breaker(), deadline_s=4 * s.redis_timeout_s,
        bulk_deadline_s=BULK_DEADLINE_S,
    )  # fmt: skip


def attempt_limiter(s: Settings, client: RedisClient) -> RedisAttemptLimiter:
    """A probing limiter on its own batcher (tests' workers in process)."""
    return RedisAttemptLimiter(
        charge_batcher(s, client), prefix=s.redis_key_prefix, hmac_key=s.hmac_key.value
    )


async def _close(ctx: dict[str, Any]) -> None:
    rt: Runtime = ctx["runtime"]
    sweeper = ctx.get("sweeper")
    if sweeper is not None:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
    for close in reversed(rt.closers):
        await asyncio.wait_for(close(), timeout=10)


def _first(e: BaseException) -> BaseException:
    while isinstance(e, BaseExceptionGroup):
        e = e.exceptions[0]
    return e


async def run_job(ctx: dict[str, Any], job_id: str, slice_no: int = 0) -> str:
    rt: Runtime = ctx["runtime"]
    assert rt.deps is not None and rt.chunks is not None
    s = rt.settings
    try:
        end = await run_slice(
            job_id, rt.deps, stop=lambda: rt.draining, slice_s=s.job_slice_s,
            concurrency=s.job_concurrency,
        )  # fmt: skip
    except Exception as e:
        cause = _first(e)
        if isinstance(cause, (DatabaseUnavailable, *DB_ERRORS)):
            log.warning("job slice interrupted: database unavailable", extra={"job_id": job_id})
            raise Retry(defer=2) from None
        log.error("job failed", extra={"job_id": job_id, "error": type(cause).__name__})
        await rt.chunks.fail(job_id, type(cause).__name__)  # a bug: no retry forever
        return "failed"
    if end is SliceEnd.STOPPED:
        with contextlib.suppress(QueueUnavailable):  # else the sweeper enqueues it again
            await enqueue_slice(ctx["redis"], job_id, slice_no + 1)
    return end.value


async def _sweep_once(rt: Runtime, redis: Any) -> None:
    assert rt.chunks is not None
    gauges = await rt.chunks.gauges()
    m = rt.metrics
    m.jobs.labels("queued").set(gauges.queued)
    m.jobs.labels("running").set(gauges.running)
    m.lines_waiting.set(gauges.lines_waiting)
    m.oldest_age.set(gauges.oldest_age_s)
    m.stalest.set(gauges.stalest_s)
    if rt.draining:
        return
    stale_s = rt.settings.job_stale_s
    bucket = SWEEP_SLICE_BASE + int(time.time() // stale_s)
    for job_id, _ in await rt.chunks.stale(stale_s):
        if await enqueue_slice(redis, job_id, bucket):
            m.requeued.inc()
            log.info("job enqueued again: no progress", extra={"job_id": job_id})


async def _sweep_forever(rt: Runtime, redis: Any) -> None:
    interval = min(5.0, rt.settings.job_stale_s / 2)
    while True:
        try:
            await _sweep_once(rt, redis)
        except (DatabaseUnavailable, QueueUnavailable, *DB_ERRORS) as e:
            log.warning("job sweep failed", extra={"error": type(e).__name__})
        await asyncio.sleep(interval)


async def _metrics_server(rt: Runtime) -> web.AppRunner:
    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(rt.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "draining" if rt.draining else "ok"})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, rt.settings.host, rt.settings.worker_metrics_port)
    await site.start()
    return runner


def build_worker(rt: Runtime) -> Worker:
    s = rt.settings
    return Worker(
        functions=[func(run_job, name=RUN_JOB, timeout=s.job_slice_s * 2 + 30, keep_result=0)],
        redis_pool=arq_redis(s.redis_url, queue_name(s.redis_key_prefix), timeout_s=5.0),
        queue_name=queue_name(s.redis_key_prefix),
        on_startup=_open,
        on_shutdown=_close,
        ctx={"runtime": rt},
        handle_signals=False,
        job_completion_wait=int(s.job_drain_s),
        max_jobs=MAX_JOBS,
        poll_delay=0.2,
        max_tries=1000,  # Retry on a database outage; a bug fails the job at once
    )


def _drain(rt: Runtime, worker: Worker, signum: signal.Signals) -> None:
    if rt.draining:
        return
    log.info("draining: finishing the current chunks", extra={"signal": signum.name})
    rt.draining = True
    rt.metrics.draining.set(1)
    worker.handle_sig_wait_for_completion(signum)


async def work(settings: Settings, log_handler: logging.Handler | None = None) -> None:
    """Run until SIGTERM or SIGINT, then drain."""
    if log_handler is not None:
        flusher = asyncio.get_running_loop().create_task(logs.flush_periodically(log_handler))
    try:
        await _work(settings)
    finally:
        if log_handler is not None:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            log_handler.flush()


async def _work(settings: Settings) -> None:
    rt = Runtime(settings)
    worker = build_worker(rt)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _drain, rt, worker, signum)
    runner = await _metrics_server(rt)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await worker.async_run()
    finally:
        await worker.close()
        await runner.cleanup()
