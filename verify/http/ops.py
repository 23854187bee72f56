"""Operations routes: health, readiness, metrics, the API description."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from verify.errors import DatabaseUnavailable
from verify.http import openapi
from verify.http.appkeys import DB_PING, METRICS, SAMPLE_POOL, SETTINGS
from verify.metrics import render

DB_PROBE_TIMEOUT_S = 1.0


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    timeout = app[SETTINGS].db_timeout_s
    await app[DB_PING](timeout)
    return json_response({"status": "ready"})


async def _database_answers(app: web.Application) -> bool:
    timeout = min(app[SETTINGS].db_timeout_s, DB_PROBE_TIMEOUT_S)
    try:
        async with asyncio.timeout(timeout):
            await app[DB_PING](timeout)
    except (DatabaseUnavailable, TimeoutError):
        return False
    return True


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    app[METRICS].db_up.set(1 if await _database_answers(app) else 0)
    app[SAMPLE_POOL]()
    return web.Response(body=render(app[METRICS]), headers={"Content-Type": CONTENT_TYPE_LATEST})


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
