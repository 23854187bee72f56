"""Server (b): aiohttp + asyncpg doing one SELECT per request on the register.

The record query of ``verify/adapters/pg.py`` (``RECORDS_SQL``) with ``= $1`` instead of
``= ANY($1::bigint[])``: one round trip per request, one pool per process of the app's
size (``VERIFY_DB_POOL_MIN``/``_MAX``, 2/8 by default), the same timeouts and the same
connection class without the reset query, so that the only difference from the app's
lookup is batching. No auth, no matching, no audit: the naive floor of a DB-backed API.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator

import asyncpg
import orjson
from aiohttp import web

from loadtest.bench import naive
from verify.adapters.pg import RECORDS_SQL, NoResetConnection

# the app's register query, for one ID per statement instead of a batch
RECORD_SQL = RECORDS_SQL.replace("= ANY($1::bigint[])", "= $1")
assert RECORD_SQL != RECORDS_SQL, "verify.adapters.pg.RECORDS_SQL changed shape"

POOL = web.AppKey("pool", asyncpg.Pool)
TIMEOUT_S = 2.0


async def lookup(request: web.Request) -> web.Response:
    claim = orjson.loads(await request.read())
    async with request.app[POOL].acquire(timeout=TIMEOUT_S) as conn:
        row = await conn.fetchrow(RECORD_SQL, int(claim["id_number"]))
    body = {"found": row is not None, "version": row["version"] if row is not None else None}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps({"status": "ok"}), content_type="application/json")


async def _pool(app: web.Application) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(
        os.environ["VERIFY_DATABASE_URL"],
        min_size=int(os.environ.get("VERIFY_DB_POOL_MIN", "2")),
        max_size=int(os.environ.get("VERIFY_DB_POOL_MAX", "8")),
        command_timeout=TIMEOUT_S,
        timeout=5.0,
        connection_class=NoResetConnection,
    )
    assert pool is not None
    app[POOL] = pool
    yield
    await pool.close()


def create_app(args: argparse.Namespace) -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(_pool)
    app.router.add_post("/v1/verify", lookup)
    app.router.add_get("/healthz", healthz)
    return app


if __name__ == "__main__":
    naive.serve(create_app, naive.parser(__doc__).parse_args())
