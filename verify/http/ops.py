"""Operations: ``/healthz`` on the API port; ``/metrics`` and ``/readyz`` on the operations port.

The operations port (``VERIFY_METRICS_PORT``, default 9464) is a second, small
aiohttp site in the same process, bound by ``serve_ops``. It is never routed
through an ingress: metric names and readiness details are for the cluster's
monitoring only, and the API port answers 404 for both paths.

``/readyz`` answers from the background readiness check (verify/service/readiness.py):
no connection is taken per probe. With ``--workers N`` every worker binds the
operations port with SO_REUSEPORT like the API port; a scrape reaches one of
them, and ``/metrics`` merges the files of every worker (multiprocess mode), so
any worker's answer covers the whole instance.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from verify.http import openapi
from verify.http.appkeys import DRAINING, METRICS, READINESS, SAMPLE_POOL, STARTING
from verify.http.middleware import OBSERVER
from verify.metrics import render

API = web.AppKey("api", web.Application)  # the ops app's view of the API app it reports on
OPS_ADDRESS = web.AppKey("ops_address", tuple[str, int])  # (host, port) the ops site is bound to


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    api = request.app[API]
    if api[DRAINING].is_set():  # SIGTERM: leave the load balancer, keep answering the API
        return json_response({"status": "draining"}, status=503)
    if api[STARTING].is_set():  # the operations port opens before the API port does
        return json_response({"status": "starting"}, status=503)
    readiness = api.get(READINESS)
    if readiness is None:  # still starting up
        return json_response({"status": "starting"}, status=503)
    ready, body = readiness.report()
    return json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    api = request.app[API]
    if SAMPLE_POOL in api:
        api[SAMPLE_POOL]()
    if OBSERVER in api:  # this process's requests of the current tick, counted before the read
        api[OBSERVER].flush()
    return web.Response(body=render(api[METRICS]), headers={"Content-Type": CONTENT_TYPE_LATEST})


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
