"""Operations routes: health, readiness, metrics, the API description."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from verify.adapters.pg import ping
from verify.errors import DatabaseUnavailable
from verify.http import openapi
from verify.http.appkeys import DRAINING, METRICS, POOL, SETTINGS
from verify.metrics import observe_pool, render

DB_PROBE_TIMEOUT_S = 1.0
POOL_SAMPLE_INTERVAL_S = 1.0


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    if app[DRAINING].is_set():  # SIGTERM: leave the load balancer, keep answering the API
        return json_response({"status": "draining"}, status=503)
    timeout = app[SETTINGS].db_timeout_s
    await ping(app[POOL], timeout)
    return json_response({"status": "ready"})


def _waiting(pool: asyncpg.Pool) -> int:
    """Tasks blocked in ``pool.acquire``. asyncpg has no public call for it: read its queue."""
    queue = getattr(pool, "_queue", None)
    getters = getattr(queue, "_getters", ())
    return sum(1 for waiter in getters if not waiter.done())


def sample_pool(app: web.Application) -> None:
    pool = app[POOL]
    observe_pool(
        app[METRICS],
        size=pool.get_size(),
        idle=pool.get_idle_size(),
        max_size=pool.get_max_size(),
        waiting=_waiting(pool),
    )


async def _database_answers(app: web.Application) -> bool:
    timeout = min(app[SETTINGS].db_timeout_s, DB_PROBE_TIMEOUT_S)
    try:
        async with asyncio.timeout(timeout):
            await ping(app[POOL], timeout)
    except (DatabaseUnavailable, TimeoutError):
        return False
    return True


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    app[METRICS].db_up.set(1 if await _database_answers(app) else 0)
    sample_pool(app)
    return web.Response(body=render(app[METRICS]), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def pool_sampler(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context refreshing the pool gauges every second.

    With several worker processes a scrape reaches one of them, so each worker
    keeps its own pool gauges fresh instead of relying on being scraped.
    """

    async def loop() -> None:
        while True:
            sample_pool(app)
            await asyncio.sleep(POOL_SAMPLE_INTERVAL_S)

    task = asyncio.get_running_loop().create_task(loop(), name="pool-sampler")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(openapi.SPEC)


async def docs(request: web.Request) -> web.Response:
    return web.Response(text=openapi.docs_html(), content_type="text/html")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, allow_head=False)
    app.router.add_get("/readyz", readyz, allow_head=False)
    app.router.add_get("/metrics", metrics, allow_head=False)
    app.router.add_get("/openapi.json", openapi_json, allow_head=False)
    app.router.add_get("/docs", docs, allow_head=False)
