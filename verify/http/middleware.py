"""Request context: request id, admission control, authentication, timeout, error mapping,
metrics, access log (one middleware: each layer costs a call per request).

Admission (verify/service/admission.py) bounds the time an API request waits for a
slot; a request it sheds is answered 503 ``overloaded`` before anything is read or
authenticated. A client that hung up is not a server error: its request is counted
with outcome ``cancelled`` (status 499, as nginx does) and not logged as an error.

A structured access-log line for the requests ``VERIFY_ACCESS_LOG`` asks for
(errors, slow ones, a sample: :mod:`verify.http.accesslog`); it carries no
personal data (no body, no query string, no path parameters: only the route
template).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import ClientConnectionResetError, web
from multidict import CIMultiDict

from verify.domain.errors import ValidationError
from verify.errors import Overloaded, ServiceError
from verify.http import problems
from verify.http.accesslog import AccessLogPolicy
from verify.http.appkeys import ADMISSION, AUTH, METRICS, SETTINGS
from verify.metrics import CLIENT_GONE, RequestObserver
from verify.service.admission import Lane
from verify.service.auth import Principal
from verify.service.limits import KeyConcurrency

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("verify.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# a caller's id goes to logs and the audit: one holding a standalone 9- or 12-digit
# number (the shape of an ID number) is replaced by one of ours rather than written down
_DIGIT_RUN = re.compile(r"(?<![0-9])(?:[0-9]{9}|[0-9]{12})(?![0-9])")
PRINCIPAL = web.RequestKey("principal", Principal)
REQUEST_ID = web.RequestKey("request_id", str)
# refused by admission: counted by verify_http_shed_requests_total, never logged one by one
# (a line per refusal would cost the CPU that shedding is there to save)
SHED = web.RequestKey("shed", bool)
OBSERVER = web.AppKey("observer", RequestObserver)
KEY_CONCURRENCY = web.AppKey("key_concurrency", KeyConcurrency)
ACCESS_LOG = web.AppKey("access_log", AccessLogPolicy)


def request_id_of(request: web.Request) -> str:
    given = request.headers.get("X-Request-Id", "")
    if _REQUEST_ID.match(given) and not _DIGIT_RUN.search(given):
        return given
    return os.urandom(16).hex()


_BULK_PREFIXES = ("/v1/verify/batch", "/v1/verify/stream", "/v1/jobs")


def lane_of(path: str) -> Lane:
    """Batches, streams and jobs are bulk: shed first, capped in slots."""
    return Lane.BULK if path.startswith(_BULK_PREFIXES) else Lane.INTERACTIVE


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _gone_response() -> web.Response:
    return web.Response(status=CLIENT_GONE, reason="Client Closed Request")


def route_of(request: web.Request) -> str:
    info = request.match_info
    resource = info.route.resource if info.http_exception is None else None
    return resource.canonical if resource is not None else "unmatched"


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    # a long-running handler (the NDJSON stream) bounds each step itself
    long_running = getattr(request.match_info.handler, "long_running", False)
    try:
        async with asyncio.timeout(None if long_running else settings.request_timeout_s):
            if request.path.startswith("/v1/"):
                authorization = request.headers.get("Authorization")
                who = await request.app[AUTH].authenticate(authorization)
                request[PRINCIPAL] = who
                with request.app[KEY_CONCURRENCY].hold(who.key_id):
                    return await handler(request)
            return await handler(request)
    except ValidationError as e:
        return problems.from_validation(e)
    except ServiceError as e:
        return problems.from_service(e)
    except web.HTTPException as e:
        return problems.from_http(e)
    except TimeoutError:
        return problems.problem("timeout", "the request took too long", retry_after=1)
    except (ConnectionResetError, ClientConnectionResetError):
        if client_gone(request):  # the client hung up mid-request: not our error
            return _gone_response()
        raise
    except Exception as e:  # a bug: answer problem+json, log its kind (never its message)
        log.error(
            "unhandled error", extra={"error": type(e).__name__, "request_id": request[REQUEST_ID]}
        )
        return problems.problem("internal_error", "an unexpected error; it has been logged")


def _where(e: BaseException) -> str:
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    start = time.perf_counter()
    request_id = request_id_of(request)
    request[REQUEST_ID] = request_id
    if request.path.startswith("/v1/"):
        response = await _admitted(request, handler)
    else:  # health, docs: never queued behind the API
        response = await _guarded(request, handler)
    if response.status == CLIENT_GONE:
        request.app[METRICS].client_gone.inc()
    response.headers["X-Request-Id"] = request_id
    _observe(request, response, time.perf_counter() - start)
    return response


async def _admitted(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    admission = app[ADMISSION]
    lane = lane_of(request.path)
    try:
        await admission.acquire(lane)
    except Overloaded:
        request[SHED] = True
        return _shed_response()
    metrics = app[METRICS]
    metrics.in_flight.inc()
    try:
        if client_gone(request):  # hung up while queued: spend nothing on it
            return _gone_response()
        return await _guarded(request, handler)
    finally:
        admission.release(lane)
        metrics.in_flight.dec()


# a refusal is made of bytes encoded once: under a flood the refusals compete with the
# admitted requests for the event loop, so each must cost as little as it can
_SHED_BODY = orjson.dumps(
    problems.problem_body("overloaded", "the service is at capacity, retry shortly")
)
_SHED_HEADERS = (("Content-Type", "application/problem+json"), ("Retry-After", "1"))


def _shed_response() -> web.Response:
    """Keep-alive is kept: closing a refused connection (Envoy's overload action) was
    measured worse here: the client reconnects at once, and a connection's setup costs
    more than a refusal (loadtest/flood.py, README "Overload")."""
    return web.Response(body=_SHED_BODY, status=503, headers=CIMultiDict(_SHED_HEADERS))


def _observe(request: web.Request, response: web.StreamResponse, elapsed: float) -> None:
    route = route_of(request)
    principal = request.get(PRINCIPAL)
    agency = principal.agency if principal else None
    agency_id = str(principal.agency_id) if principal else None
    status = response.status
    request.app[OBSERVER].observe(route, request.method, status, elapsed, agency_id)
    level = logging.DEBUG if status == CLIENT_GONE else logging.INFO
    if SHED in request:
        return
    if request.app[ACCESS_LOG].wanted(status, elapsed) and log.isEnabledFor(level):
        log.log(
            level,
            "request",
            extra={
                "request_id": request[REQUEST_ID],
                "agency": agency,
                "route": route,
                "method": request.method,
                "status": status,
                "latency_ms": round(elapsed * 1000, 3),
            },
        )
