"""The application factory: ``create_app(settings)``; resources open on the running loop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
from aiohttp import web

from cache.breaker import Breaker
from cache.keys import KeySpace
from cache.lookup import open_lookup
from cache.metrics import CacheMetrics
from cache.redis_client import create_client
from verify.adapters.audit import PgAuditWriter
from verify.adapters.citizens import PgCitizens
from verify.adapters.keys import PgKeyStore
from verify.adapters.maintenance import run_maintenance
from verify.adapters.pg import DB_ERRORS, PgRegister, connection, create_pool
from verify.adapters.ratelimit import RateLimiter
from verify.errors import DatabaseUnavailable
from verify.http import citizens, jobs, stream
from verify.http.appkeys import (
    AUTH,
    LIMITER,
    LOOKUP,
    LOOKUP_DEPS,
    METRICS,
    POOL,
    SETTINGS,
    TODAY,
    VERIFY_DEPS,
)
from verify.http.middleware import IN_FLIGHT, OBSERVER, context_middleware
from verify.http.routes import add_routes
from verify.job_wiring import open_jobs
from verify.metrics import Metrics, RequestObserver, observe_audit_commit
from verify.service.audit import Audit
from verify.service.auth import Authenticator
from verify.service.lookup import LookupDeps
from verify.service.verification import VerifyDeps
from verify.settings import Settings

log = logging.getLogger("verify.app")
READ_POOLS = web.AppKey("read_pools", list[asyncpg.Pool])
AUDIT_OVERRIDE = web.AppKey("audit_override", Audit)


class LocalToday:
    """Today's local date, read at most once a second (``date.today()`` converts the
    clock to local time on every call: measurable on the hot path)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = -1.0
        self._value = dt.date.today()

    def __call__(self) -> dt.date:
        now = self._clock()
        if now >= self._until:
            self._value = dt.date.today()
            self._until = now + 1.0
        return self._value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(
    settings: Settings,
    *,
    today: Callable[[], dt.date] | None = None,
    metrics: Metrics | None = None,
    audit: Audit | None = None,
) -> web.Application:
    """The API. ``audit`` replaces the Postgres audit writer: for benchmarks that measure
    what the audit costs, never reachable from configuration."""
    app = web.Application(
        middlewares=[context_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[TODAY] = today if today is not None else LocalToday()
    app[METRICS] = metrics if metrics is not None else Metrics()
    app[IN_FLIGHT] = [0]
    app[OBSERVER] = RequestObserver(app[METRICS])
    if audit is not None:
        app[AUDIT_OVERRIDE] = audit
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_lookup)
    app.cleanup_ctx.append(_limiter)
    app.cleanup_ctx.append(_audit)
    app.cleanup_ctx.append(_maintenance)
    app.cleanup_ctx.append(open_jobs)
    add_routes(app)
    citizens.add_routes(app)
    stream.add_routes(app)
    jobs.add_routes(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[POOL] = await create_pool(settings.database_url, settings)
    app[READ_POOLS] = [await create_pool(u, settings) for u in settings.database_read_urls]
    app[AUTH] = Authenticator(
        PgKeyStore(app[POOL], timeout=settings.db_timeout_s), ttl_s=settings.key_cache_ttl_s
    )
    yield
    pools = [app[POOL], *app[READ_POOLS]]
    await asyncio.wait_for(asyncio.gather(*(p.close() for p in pools)), timeout=10)


async def _lookup(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pools: list[asyncpg.Pool] = app[READ_POOLS] or [app[POOL]]
    source = PgRegister(pools, timeout=settings.db_timeout_s)
    cache_metrics = CacheMetrics(app[METRICS].registry)
    lookup = await open_lookup(settings, source, metrics=cache_metrics)
    app[LOOKUP] = lookup
    yield
    await lookup.aclose()


async def _limiter(app: web.Application) -> AsyncIterator[None]:
    """Rate limits on a Redis client of their own (their breaker trips independently)."""
    settings = app[SETTINGS]
    client = create_client(settings)
    app[LIMITER] = RateLimiter(
        client,
        keyspace=KeySpace(settings.redis_key_prefix, settings.hmac_key.value),
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
        lookup=app[LOOKUP],
        audit=audit,
        hmac_key=settings.hmac_key.value,
        today=app[TODAY],
        now=_now,
    )
    app[LOOKUP_DEPS] = LookupDeps(
        citizens=PgCitizens(app[POOL], timeout=settings.db_timeout_s),
        audit=audit,
        hmac_key=settings.hmac_key.value,
        today=app[TODAY],
        now=_now,
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
