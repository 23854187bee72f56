"""Server (a): aiohttp + uvloop hello world answering a POST with a small orjson body.

The ceiling of the framework on this machine: it reads the request body (as every
API handler does) and answers without parsing it.
"""

from __future__ import annotations

import argparse

import orjson
from aiohttp import web

from loadtest.bench import naive

BODY = orjson.dumps({"hello": "world"})


async def hello(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BODY, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps({"status": "ok"}), content_type="application/json")


def create_app(args: argparse.Namespace) -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/verify", hello)
    app.router.add_get("/healthz", healthz)
    return app


if __name__ == "__main__":
    naive.serve(create_app, naive.parser(__doc__).parse_args())
