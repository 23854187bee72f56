"""Operations: ``/healthz`` on the API port; ``/metrics`` and ``/readyz`` on the operations port.

The operations port (``VERIFY_METRICS_PORT``, default 9464) is a second, small
aiohttp site in the same process, bound by ``serve_ops``. It is never routed
through an ingress: metric names and readiness details are for the cluster's
monitoring only, and the API port answers 404 for both paths.

``/readyz`` answers from the background readiness check (verify/readiness.py):
no connection is taken per probe. With ``--workers N`` every worker binds the
operations port with SO_REUSEPORT like the API port; a scrape reaches one of
them, and ``/metrics`` merges the files of every worker (multiprocess mode), so
any worker's answer covers the whole instance.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import asyncpg
import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from verify.adapters.pg import ping
from verify.http import openapi
from verify.http.appkeys import METRICS, POOL, READINESS, REDIS_PING, SETTINGS
from verify.metrics import observe_pool, render
from verify.readiness import READINESS_TIMEOUT_S, Readiness

POOL_SAMPLE_INTERVAL_S = 1.0
API = web.AppKey("api", web.Application)  # the ops app's view of the API app it reports on
OPS_ADDRESS = web.AppKey("ops_address", tuple[str, int])  # (host, port) the ops site is bound to


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    api = request.app[API]
    readiness = api.get(READINESS)
    if readiness is None:  # still starting up
        return json_response({"status": "starting"}, status=503)
    ready, body = readiness.report()
    return json_response(body, status=200 if ready else 503)


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


async def metrics(request: web.Request) -> web.Response:
    api = request.app[API]
    if POOL in api:
        sample_pool(api)
    return web.Response(body=render(api[METRICS]), headers={"Content-Type": CONTENT_TYPE_LATEST})


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


async def readiness_check(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context: the background readiness check of this process.

    Postgres is required (a ``SELECT 1`` through the pool, once a second, within
    1 s); Redis is reported for information. ``verify_db_up`` follows the result.
    """
    settings = app[SETTINGS]
    pool, redis_ping, db_up = app[POOL], app[REDIS_PING], app[METRICS].db_up
    timeout = min(settings.db_timeout_s, READINESS_TIMEOUT_S)

    def on_result(name: str, ok: bool) -> None:
        if name == "postgres":
            db_up.set(1 if ok else 0)

    readiness = Readiness(
        {"postgres": lambda: ping(pool, timeout), "redis": redis_ping},
        required=frozenset({"postgres"}),
        timeout_s=timeout,
        on_result=on_result,
    )
    await readiness.check_once()  # ready or not from the first probe on
    async with readiness.running():
        app[READINESS] = readiness
        yield


def create_ops_app(api: web.Application) -> web.Application:
    """The operations app reporting on ``api`` (which owns the pool, metrics and readiness)."""
    ops = web.Application()
    ops[API] = api
    ops.router.add_get("/metrics", metrics, allow_head=False)
    ops.router.add_get("/readyz", readyz, allow_head=False)
    ops.router.add_get("/healthz", healthz, allow_head=False)
    return ops


def serve_ops(
    host: str, port: int, *, reuse_port: bool = False
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context for the API app: the operations site, up while the API is."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(create_ops_app(app), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
        await site.start()
        app[OPS_ADDRESS] = tuple(runner.addresses[0][:2])
        yield
        await runner.cleanup()

    return ctx


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(openapi.SPEC)


async def docs(request: web.Request) -> web.Response:
    return web.Response(text=openapi.docs_html(), content_type="text/html")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, allow_head=False)
    app.router.add_get("/openapi.json", openapi_json, allow_head=False)
    app.router.add_get("/docs", docs, allow_head=False)
