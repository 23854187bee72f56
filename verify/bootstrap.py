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
from collections.abc import AsyncIterator, Callable

import asyncpg
from aiohttp import web

from cache.breaker import Breaker
from cache.metrics import CacheMetrics
from cache.redis_client import create_client
from cache.register import open_register
from cache.settings import CacheSettings
from verify.adapters.api_keys import PgKeyStore
from verify.adapters.audit import PgAuditWriter
from verify.adapters.changes import PgChangeSource
from verify.adapters.citizens import PgCitizens
from verify.adapters.clock import LocalToday, utc_now
from verify.adapters.job_queue import ArqJobQueue, arq_redis
from verify.adapters.jobs import PgJobStore
from verify.adapters.maintenance import run_maintenance
from verify.adapters.pg import DB_ERRORS, PgRegister, connection, create_pool, ping, pool_stats
from verify.adapters.ratelimit import RateLimiter
from verify.errors import DatabaseUnavailable
from verify.http.app import http_app
from verify.http.appkeys import (
    AUTH,
    DB_PING,
    LIMITER,
    LOOKUP_DEPS,
    METRICS,
    SAMPLE_POOL,
    SETTINGS,
    TODAY,
    VERIFY_DEPS,
)
from verify.http.jobs_keys import JOB_QUEUE, JOB_STORE
from verify.metrics import Metrics, observe_audit_commit, observe_pool
from verify.service.attributes import LookupDeps
from verify.service.auth import Authenticator
from verify.service.ports import Audit, Register
from verify.service.verification import VerifyDeps
from verify.settings import Settings

log = logging.getLogger("verify.app")
POOL = web.AppKey("pool", asyncpg.Pool)
READ_POOLS = web.AppKey("read_pools", list[asyncpg.Pool])
REGISTER = web.AppKey("register", Register)
AUDIT_OVERRIDE = web.AppKey("audit_override", Audit)
POOL_SAMPLE_INTERVAL_S = 1.0


def cache_settings_from(settings: Settings) -> CacheSettings:
    return CacheSettings(
        redis_url=settings.redis_url,
        hmac_key=settings.hmac_key.value,
        cache_key=settings.cache_key.value,
        enabled=settings.cache_enabled,
        redis_cluster=settings.redis_cluster,
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
        today=today if today is not None else LocalToday(),
        metrics=metrics if metrics is not None else Metrics(),
    )
    if audit is not None:
        app[AUDIT_OVERRIDE] = audit
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_register)
    app.cleanup_ctx.append(_limiter)
    app.cleanup_ctx.append(_audit)
    app.cleanup_ctx.append(_maintenance)
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
    """Rate limits on a Redis client of their own (their breaker trips independently)."""
    settings = app[SETTINGS]
    client = create_client(cache_settings_from(settings))
    app[LIMITER] = RateLimiter(
        client,
        prefix=settings.redis_key_prefix,
        breaker=Breaker(),
        deadline_s=4 * settings.redis_timeout_s,
    )
    yield
    await client.aclose()


async def _audit(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    metrics = app[METRICS]
    writer = PgAuditWriter(
        app[POOL],
        timeout=settings.db_timeout_s,
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


async def _maintain_forever(app: web.Application) -> None:
    settings = app[SETTINGS]
    while True:
        try:
            async with connection(app[POOL], settings.db_timeout_s) as conn:
                report = await run_maintenance(
                    conn, retention_days=settings.audit_retention_days, today=app[TODAY]()
                )
            if report.created or report.dropped:
                log.info(
                    "audit partitions",
                    extra={"created": report.created, "dropped": len(report.dropped)},
                )
        except (DatabaseUnavailable, *DB_ERRORS) as e:  # not on a request path: retry later
            log.warning("maintenance failed", extra={"error": type(e).__name__})
        except Exception as e:  # a bug must not end retention for good: log, retry later
            log.error("maintenance failed unexpectedly", extra={"error": type(e).__name__})
        await asyncio.sleep(settings.maintenance_interval_s)


async def _maintenance(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.get_running_loop().create_task(_maintain_forever(app), name="maintenance")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


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


async def _jobs(app: web.Application) -> AsyncIterator[None]:
    """Bulk jobs: the Postgres job store and the arq queue that wakes workers."""
    settings = app[SETTINGS]
    app[JOB_STORE] = PgJobStore(
        app[POOL], timeout=settings.db_timeout_s, max_uploads=max(1, settings.db_pool_max // 4)
    )
    queue = ArqJobQueue(arq_redis(settings))
    app[JOB_QUEUE] = queue
    yield
    await queue.aclose()
