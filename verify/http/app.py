"""The HTTP application: middleware, routes and the request-scoped keys; nothing opened here.

``http_app`` is the web layer alone. The composition root
(``verify/bootstrap.py``, ``create_app``) adds the resources the handlers use
(pools, register, limiter, audit, their cleanup contexts) under the keys of
:mod:`verify.http.appkeys`.
"""

from __future__ import annotations

import asyncio
import warnings

from aiohttp import web

from verify.http import citizens, counter, jobs, stream
from verify.http.accesslog import AccessLogPolicy
from verify.http.appkeys import ADMISSION, DRAINING, METRICS, SETTINGS, STARTING, TODAY, Today
from verify.http.deadlines import Deadlines
from verify.http.middleware import (
    ACCESS_LOG,
    DEADLINES,
    HTTP_STATE,
    KEY_CONCURRENCY,
    OBSERVER,
    HttpState,
)
from verify.http.request_metrics import RequestObserver
from verify.http.router import ContextRouter
from verify.http.routes import add_routes
from verify.metrics import Metrics
from verify.service.admission import SHED_REASONS, Admission, AdmissionConfig, Lane
from verify.service.limits import KeyConcurrency
from verify.settings import Settings


def http_app(settings: Settings, *, today: Today, metrics: Metrics) -> web.Application:
    app = _application(settings.max_body_bytes)
    app[SETTINGS] = settings
    app[TODAY] = today
    app[METRICS] = metrics
    observer = RequestObserver(metrics)
    app[ADMISSION] = _admission(settings, metrics, observer)
    app[DRAINING] = asyncio.Event()
    app[STARTING] = asyncio.Event()
    app[KEY_CONCURRENCY] = KeyConcurrency(settings.max_concurrent_per_key)
    app[OBSERVER] = observer
    app[DEADLINES] = deadlines = Deadlines(settings.request_timeout_s)
    app[ACCESS_LOG] = AccessLogPolicy(settings.access_log)
    app[HTTP_STATE] = HttpState(
        app[ADMISSION], observer, deadlines, app[KEY_CONCURRENCY], app[ACCESS_LOG], metrics
    )
    add_routes(app)
    citizens.add_routes(app)
    stream.add_routes(app)
    counter.add_routes(app)
    jobs.add_routes(app)

    async def _last_tick(app: web.Application) -> None:
        """The requests of the last tick counted (their files outlive a worker), no timer left."""
        observer.flush()
        deadlines.close()

    app.on_cleanup.append(_last_tick)
    return app


def _application(max_body_bytes: int) -> web.Application:
    """An app whose router runs every handler in the request context (ContextRouter: no
    middleware). aiohttp deprecated passing a router (aio-libs/aiohttp#3021) but keeps
    the argument; the warning is silenced here only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "router argument is deprecated", DeprecationWarning)
        return web.Application(router=ContextRouter(), client_max_size=max_body_bytes)


def _admission(settings: Settings, metrics: Metrics, observer: RequestObserver) -> Admission:
    """Admission control, its metric updates folded once per tick by ``observer``."""
    config = AdmissionConfig(
        limit=settings.max_concurrency,
        bulk_limit=min(settings.bulk_concurrency, settings.max_concurrency),
        target_s=settings.queue_target_s,
        max_wait_s=settings.queue_timeout_s,
        overload_wait_s=settings.overload_queue_timeout_s,
        bulk_wait_s=settings.bulk_queue_timeout_s,
        lag_target_s=settings.loop_lag_target_s,
    )
    shed = {(lane, r): metrics.shed.labels(lane, r) for lane in Lane for r in SHED_REASONS}
    waits = {lane: observer.histogram(metrics.queue_wait.labels(lane)) for lane in Lane}
    overloaded = observer.gauge(metrics.overloaded)

    def on_wait(lane: Lane, seconds: float) -> None:
        if seconds > 0:  # only requests that queued: the others cost no histogram update
            waits[lane](seconds)

    metrics.admission_limit.set(config.limit)
    return Admission(
        config,
        on_shed=lambda lane, reason: shed[lane, reason].inc(),
        on_wait=on_wait,
        on_state=lambda overload: overloaded(1 if overload else 0),
        on_lag=observer.histogram(metrics.loop_lag),
        on_limit=observer.gauge(metrics.admission_limit),
    )
