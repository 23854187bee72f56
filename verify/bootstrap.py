"""The composition root: the one place that builds pools, register, limiter, audit and the app.

``create_app(settings)`` is the HTTP app of :mod:`verify.http.app` with every
resource opened in a ``cleanup_ctx`` on the running loop and closed after
``yield`` (nothing at import). Only this module (with ``server`` and ``cli``)
knows which adapter implements which port, and it hands the cache layer its
sources and its own settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import zoneinfo
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import asyncpg
from aiohttp import web

from cache.breaker import Breaker
from cache.metrics import CacheMetrics
from cache.redis_client import close_client, create_client
from cache.register import open_register
from cache.settings import CacheSettings
from verify.adapters.api_keys import PgKeyStore
from verify.adapters.attempts import RedisAttemptLimiter
from verify.adapters.audit import PgAuditWriter
from verify.adapters.changes import PgChangeSource
from verify.adapters.citizens import PgCitizens
from verify.adapters.clock import LocalToday, utc_now
from verify.adapters.gcra_batch import BULK_DEADLINE_S, ChargeBatcher
from verify.adapters.gcra_lease import LeasedAttemptLimiter, LeasedRateLimiter
from verify.adapters.gcra_redis import redis_sender
from verify.adapters.job_queue import ArqJobQueue, arq_redis, queue_name
from verify.adapters.jobs import PgJobStore
from verify.adapters.pg import PgRegister, create_pool, ping, pool_stats
from verify.adapters.ratelimit import RateLimiter
from verify.http.app import http_app
from verify.http.appkeys import (
    AUTH,
    DB_PING,
    LIMITER,
    LOOKUP_DEPS,
    METRICS,
    READINESS,
    SAMPLE_POOL,
    SETTINGS,
    TODAY,
    VERIFY_DEPS,
)
from verify.http.jobs_keys import JOB_QUEUE, JOB_STORE
from verify.metrics import Metrics, observe_audit_commit, observe_pool
from verify.service.attempts import AttemptLimiter
from verify.service.attributes import LookupDeps
from verify.service.auth import Authenticator
from verify.service.ports import Audit, Register
from verify.service.readiness import READINESS_TIMEOUT_S, Readiness
from verify.service.verification import VerifyDeps
from verify.settings import Settings

log = logging.getLogger("verify.app")
POOL = web.AppKey("pool", asyncpg.Pool)
READ_POOLS = web.AppKey("read_pools", list[asyncpg.Pool])
REGISTER = web.AppKey("register", Register)
AUDIT_OVERRIDE = web.AppKey("audit_override", Audit)
ATTEMPTS = web.AppKey("attempts", AttemptLimiter)


class Ping(Protocol):
    def __call__(self) -> Awaitable[object]: ...


REDIS_PING = web.AppKey("redis_ping", Ping)  # informational readiness check
POOL_SAMPLE_INTERVAL_S = 1.0


def cache_settings_from(settings: Settings) -> CacheSettings:
    return CacheSettings(
        redis_url=settings.redis_url,
        hmac_key=settings.hmac_key.value,
        cache_key=settings.cache_key.value,
        enabled=settings.cache_enabled,
        redis_cluster=settings.redis_cluster,
        redis_ca_file=settings.redis_ca_file,
        redis_timeout_s=settings.redis_timeout_s,
        key_prefix=settings.redis_key_prefix,
        max_batch=settings.lookup_batch_max,
    )


def create_app(
    settings: Settings,
    *,
    today: Callable[[], dt.date] | None = None,
    metrics: Metrics | None = None,
    audit: Audit | None = None,
) -> web.Application:
    """The API. ``audit`` replaces the Postgres audit writer: for benchmarks that measure
    what the audit costs, never reachable from configuration."""
    app = http_app(
        settings,
        today=today if today is not None else LocalToday(zoneinfo.ZoneInfo(settings.timezone)),
        metrics=metrics if metrics is not None else Metrics(),
    )
    if audit is not None:
        app[AUDIT_OVERRIDE] = audit
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_register)
    app.cleanup_ctx.append(_limiter)
    app.cleanup_ctx.append(_audit)
    app.cleanup_ctx.append(_readiness)
    app.cleanup_ctx.append(_jobs)
    return app


async def _pool(url: str, settings: Settings) -> asyncpg.Pool:
    return await create_pool(
        url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout_s=settings.db_timeout_s,
        connect_timeout_s=settings.db_connect_timeout_s,
    )


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = app[POOL] = await _pool(settings.database_url, settings)
    app[READ_POOLS] = [await _pool(u, settings) for u in settings.database_read_urls]
    app[AUTH] = Authenticator(
        PgKeyStore(pool, timeout=settings.db_timeout_s), ttl_s=settings.key_cache_ttl_s
    )

    async def db_ping(limit_s: float) -> None:
        await ping(pool, limit_s)

    def sample_pool() -> None:
        stats = pool_stats(pool)
        observe_pool(
            app[METRICS],
            size=stats.size,
            idle=stats.idle,
            max_size=stats.max_size,
            waiting=stats.waiting,
        )

    app[DB_PING] = db_ping
    app[SAMPLE_POOL] = sample_pool
    yield
    pools = [pool, *app[READ_POOLS]]
    await asyncio.wait_for(asyncio.gather(*(p.close() for p in pools)), timeout=10)


async def _register(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pools: list[asyncpg.Pool] = app[READ_POOLS] or [app[POOL]]
    changes = PgChangeSource(
        settings.database_url,
        timeout_s=settings.db_timeout_s,
        connect_timeout_s=settings.db_connect_timeout_s,
    )
    register = await open_register(
        cache_settings_from(settings),
        PgRegister(pools, timeout=settings.db_timeout_s),
        changes,
        metrics=CacheMetrics(app[METRICS].registry),
    )
    app[REGISTER] = register
    yield
    await register.aclose()


async def _limiter(app: web.Application) -> AsyncIterator[None]:
    """Rate limits and the probing limit on a Redis client of their own (their breaker trips
    independently of the cache's): the charges of both in one event-loop tick go to Redis
    as one round trip, under one deadline. Both are spent from token leases held in process
    where a bucket is busy (``gcra_lease.py``), else charged per request."""
    settings = app[SETTINGS]
    client = create_client(cache_settings_from(settings))
    batcher = ChargeBatcher(
        redis_sender(client), breaker=Breaker(), deadline_s=4 * settings.redis_timeout_s,
        bulk_deadline_s=BULK_DEADLINE_S,
    )  # fmt: skip
    local = app[METRICS].limiter_local
    exact = RateLimiter(
        batcher, prefix=settings.redis_key_prefix, on_fallback=local.labels("rate").inc
    )
    leased = LeasedRateLimiter(
        exact, batcher, max_tokens=settings.rate_lease_max, ttl_s=settings.rate_lease_ttl_s
    )
    app[LIMITER] = leased
    exact_attempts = RedisAttemptLimiter(
        batcher, prefix=settings.redis_key_prefix, hmac_key=settings.hmac_key.value,
        on_fallback=local.labels("attempts").inc,
    )  # fmt: skip
    # leases only when turned on (off by default): otherwise a verify would pay their
    # bookkeeping (a person seen twice in a TTL gets lease state) for leases never bought
    attempts = (
        LeasedAttemptLimiter(
            exact_attempts, batcher, max_tokens=settings.attempt_lease_max,
            ttl_s=settings.attempt_lease_ttl_s,
        )
        if settings.attempt_lease_max
        else None
    )  # fmt: skip
    app[ATTEMPTS] = attempts if attempts is not None else exact_attempts
    app[REDIS_PING] = client.ping
    yield
    await leased.aclose()  # its leases in flight wait on the batcher
    if attempts is not None:
        await attempts.aclose()
    await batcher.aclose()
    await close_client(client)


async def _audit(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    metrics = app[METRICS]
    writer = PgAuditWriter(
        app[POOL],
        timeout=settings.db_timeout_s,
        max_in_flight=settings.audit_commits_in_flight,
        copy_rows=settings.audit_copy_rows,
        on_commit=lambda rows, seconds: observe_audit_commit(metrics, rows, seconds),
        on_depth=metrics.audit_queue.set,
        on_failure=metrics.audit_failures.inc,
    )
    audit: Audit = app.get(AUDIT_OVERRIDE, writer)
    app[VERIFY_DEPS] = VerifyDeps(
        register=app[REGISTER],
        audit=audit,
        hmac_key=settings.hmac_key.value,
        today=app[TODAY],
        now=utc_now,
        attempts=app[ATTEMPTS],
        attempts_per_day=settings.subject_attempts_per_day,
    )
    app[LOOKUP_DEPS] = LookupDeps(
        citizens=PgCitizens(app[POOL], timeout=settings.db_timeout_s),
        audit=audit,
        hmac_key=settings.hmac_key.value,
        today=app[TODAY],
        now=utc_now,
    )
    yield
    await writer.aclose()


async def _readiness(app: web.Application) -> AsyncIterator[None]:
    """The background readiness check of this process (verify/service/readiness.py):
    PostgreSQL is required (``SELECT 1`` through the pool once a second, within 1 s),
    Redis is reported for information; ``verify_db_up`` follows PostgreSQL."""
    db_ping, db_up = app[DB_PING], app[METRICS].db_up
    timeout = min(app[SETTINGS].db_timeout_s, READINESS_TIMEOUT_S)

    def on_result(name: str, ok: bool) -> None:
        if name == "postgres":
            db_up.set(1 if ok else 0)

    readiness = Readiness(
        {"postgres": lambda: db_ping(timeout), "redis": app[REDIS_PING]},
        required=frozenset({"postgres"}),
        timeout_s=timeout,
        on_result=on_result,
    )
    await readiness.check_once()  # ready or not from the first probe on
    async with readiness.running():
        app[READINESS] = readiness
        yield


async def _jobs(app: web.Application) -> AsyncIterator[None]:
    """Bulk jobs: the Postgres job store (uploads capped per process: each holds a pooled
    connection for its transaction) and the arq queue that wakes `verify worker`."""
    settings = app[SETTINGS]
    app[JOB_STORE] = PgJobStore(
        app[POOL], timeout=settings.db_timeout_s, max_uploads=max(1, settings.db_pool_max // 4)
    )
    queue = ArqJobQueue(arq_redis(settings.redis_url, queue_name(settings.redis_key_prefix)))
    app[JOB_QUEUE] = queue
    yield
    await queue.aclose()


async def pool_sampler(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context refreshing the pool gauges every second.

    With several worker processes a scrape reaches one of them, so each worker
    keeps its own pool gauges fresh instead of relying on being scraped.
    """

    async def loop() -> None:
        while True:
            app[SAMPLE_POOL]()
            await asyncio.sleep(POOL_SAMPLE_INTERVAL_S)

    task = asyncio.get_running_loop().create_task(loop(), name="pool-sampler")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
