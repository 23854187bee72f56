"""Operations routes: health, readiness, metrics, the API description."""

from __future__ import annotations

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from verify.adapters.pg import connection
from verify.http import openapi
from verify.http.appkeys import METRICS, POOL, SETTINGS


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    timeout = app[SETTINGS].db_timeout_s
    async with connection(app[POOL], timeout) as conn:
        await conn.fetchval("SELECT 1", timeout=timeout)
    return json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    pool = request.app[POOL]
    size, idle = pool.get_size(), pool.get_idle_size()
    metrics.db_pool.labels("in_use").set(size - idle)
    metrics.db_pool.labels("idle").set(idle)
    metrics.db_pool.labels("max").set(pool.get_max_size())
    data = generate_latest(metrics.registry)
    return web.Response(body=data, headers={"Content-Type": CONTENT_TYPE_LATEST})


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
