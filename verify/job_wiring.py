"""Composition of the bulk-job resources of the API: the Postgres job store and the arq queue.

Kept apart from verify/http/app.py so that wiring moves as one piece.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from verify.adapters.job_queue import ArqJobQueue, arq_redis
from verify.adapters.jobs import PgJobStore
from verify.http.appkeys import POOL, SETTINGS
from verify.http.jobs_keys import JOB_QUEUE, JOB_STORE


async def open_jobs(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[JOB_STORE] = PgJobStore(
        app[POOL], timeout=settings.db_timeout_s, max_uploads=max(1, settings.db_pool_max // 4)
    )
    queue = ArqJobQueue(arq_redis(settings))
    app[JOB_QUEUE] = queue
    yield
    await queue.aclose()
