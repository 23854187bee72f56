"""The HTTP application: middleware, routes and the request-scoped keys; nothing opened here.

``http_app`` is the web layer alone. The composition root
(``verify/bootstrap.py``, ``create_app``) adds the resources the handlers use
(pools, register, limiter, audit, their cleanup contexts) under the keys of
:mod:`verify.http.appkeys`.
"""

from __future__ import annotations

from aiohttp import web

from verify.http import citizens, jobs, stream
from verify.http.appkeys import METRICS, SETTINGS, TODAY, Today
from verify.http.middleware import IN_FLIGHT, OBSERVER, context_middleware
from verify.http.routes import add_routes
from verify.metrics import Metrics, RequestObserver
from verify.settings import Settings


def http_app(settings: Settings, *, today: Today, metrics: Metrics) -> web.Application:
    app = web.Application(
        middlewares=[context_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[TODAY] = today
    app[METRICS] = metrics
    app[IN_FLIGHT] = [0]
    app[OBSERVER] = RequestObserver(metrics)
    add_routes(app)
    citizens.add_routes(app)
    stream.add_routes(app)
    jobs.add_routes(app)
    return app
