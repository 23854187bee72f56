"""Request context: request id, admission control, authentication, timeout, error mapping,
metrics, access log (one wrapper per route, no aiohttp middleware: each layer costs a call
per request; see verify/http/router.py).

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
import functools
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
from verify.http.appkeys import AUTH
from verify.http.deadlines import Deadlines
from verify.http.request_metrics import RequestObserver
from verify.metrics import CLIENT_GONE, Metrics
from verify.service.admission import Admission, Lane
from verify.service.auth import Authenticator, Principal
from verify.service.limits import KeyConcurrency

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("verify.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# a caller's id goes to logs and the audit: one holding a standalone 9- or 12-digit
# number (the shape of an ID number) is replaced by one of ours rather than written down
_DIGIT_RUN = re.compile(r"(?<![0-9])(?:[0-9]{9}|[0-9]{12})(?![0-9])")
PRINCIPAL = web.RequestKey("principal", Principal)
REQUEST_ID = web.RequestKey("request_id", str)
OBSERVER = web.AppKey("observer", RequestObserver)
KEY_CONCURRENCY = web.AppKey("key_concurrency", KeyConcurrency)
ACCESS_LOG = web.AppKey("access_log", AccessLogPolicy)
DEADLINES = web.AppKey("deadlines", Deadlines)  # VERIFY_REQUEST_TIMEOUT, one timer for all


class _RandomIds:
    """Fresh request ids, 16 random bytes each as 32 hex digits, taken from
    ``os.urandom`` 4 KiB at a time: one system call per 256 requests instead of one each.
    A forked child starts from a new buffer (no two processes hand out the same id)."""

    _SIZE = 16 * 256

    def __init__(self) -> None:
        self._hex = ""
        self._at = 0
        os.register_at_fork(after_in_child=self._refill)

    def _refill(self) -> None:
        self._hex = os.urandom(self._SIZE).hex()
        self._at = 0

    def next(self) -> str:
        if self._at >= len(self._hex):
            self._refill()
        at = self._at
        self._at = at + 32
        return self._hex[at : at + 32]


_ids = _RandomIds()


def request_id_of(request: web.Request) -> str:
    given = request.headers.get("X-Request-Id")
    if given and _REQUEST_ID.match(given) and not _DIGIT_RUN.search(given):
        return given
    return _ids.next()


_BULK_PREFIXES = ("/v1/verify/batch", "/v1/verify/stream", "/v1/jobs")
_INTERACTIVE, _BULK = Lane.INTERACTIVE, Lane.BULK  # a member read through its class is a call


def lane_of(path: str) -> Lane:
    """Batches, streams and jobs are bulk: shed first, capped in slots."""
    return Lane.BULK if path.startswith(_BULK_PREFIXES) else Lane.INTERACTIVE


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _gone_response() -> web.Response:
    return web.Response(status=CLIENT_GONE, reason="Client Closed Request")


class HttpState:
    """What the request context needs of the app, looked up once per request instead of
    one ``app[...]`` per object (set by :func:`verify.http.app.http_app`)."""

    __slots__ = ("access_log", "admission", "deadlines", "key_concurrency", "metrics", "observer")

    def __init__(
        self,
        admission: Admission,
        observer: RequestObserver,
        deadlines: Deadlines,
        key_concurrency: KeyConcurrency,
        access_log: AccessLogPolicy,
        metrics: Metrics,
    ) -> None:
        self.admission = admission
        self.observer = observer
        self.deadlines = deadlines
        self.key_concurrency = key_concurrency
        self.access_log = access_log
        self.metrics = metrics


HTTP_STATE = web.AppKey("http_state", HttpState)


class Bound:
    """The app's objects the wrappers of one router use, read from the app at its first
    request (after startup: the app's state can no longer change) instead of per request."""

    __slots__ = ("auth", "state")

    def __init__(self) -> None:
        self.state: HttpState | None = None
        self.auth: Authenticator | None = None

    def bind(self, app: web.Application) -> HttpState:
        self.auth = app.get(AUTH)  # none in an app without the API's resources (some tests)
        self.state = state = app[HTTP_STATE]
        return state


IN_CONTEXT = "runs_in_request_context"  # the attribute marking a wrapped handler


def in_context(  # noqa: C901 (its closure: one frame)
    handler: Handler, route: str, bound: Bound | None = None
) -> Handler:
    """``handler`` of the route template ``route`` run inside the request context (what a
    middleware would do, without aiohttp's middleware chain: see verify/http/router.py);
    ``bound``: shared by the routes of one app."""
    bound = bound or Bound()
    # a long-running handler (the NDJSON stream, jobs) bounds each step itself
    bounded = not getattr(handler, "long_running", False)

    async def run(request: web.Request) -> web.StreamResponse:  # noqa: C901 (one frame on purpose)
        """Everything a request goes through, in one coroutine: each awaited layer would add
        a frame that every resumption of the request's task passes through again."""
        start = time.perf_counter()
        state = bound.state or bound.bind(request.app)
        request_id = request_id_of(request)
        request[REQUEST_ID] = request_id
        path = request.path
        api = path.startswith("/v1/")  # health, docs: never queued behind the API
        admission = state.admission
        observer = state.observer
        lane = None
        if api:
            lane = _BULK if path.startswith(_BULK_PREFIXES) else _INTERACTIVE
            try:
                if not admission.try_acquire(lane):
                    await admission.acquire(lane)
            except Overloaded:
                return _finish(
                    request, state, route, _shed_response(), start, request_id, None, True
                )
            observer.started()
        deadlines = state.deadlines
        deadline = None
        who: Principal | None = None
        response: web.StreamResponse
        try:
            if api and client_gone(request):  # hung up while queued: spend nothing on it
                response = _gone_response()
            else:
                if bounded:
                    deadline = deadlines.start()
                if api:
                    authorization = request.headers.get("Authorization")
                    auth = bound.auth or request.app[AUTH]
                    who = auth.cached(authorization) or await auth.authenticate(authorization)
                    request[PRINCIPAL] = who
                    key_concurrency = state.key_concurrency
                    key_concurrency.enter(who.key_id)
                    try:
                        response = await handler(request)
                    finally:
                        key_concurrency.leave(who.key_id)
                else:
                    response = await handler(request)
        except asyncio.CancelledError:
            if deadline is None or not deadline.timed_out():
                raise
            response = _timeout_response()
        except Exception as e:
            mapped = _error_response(request, e)
            if mapped is None:
                raise
            response = mapped
        finally:
            if deadline is not None:
                deadlines.done(deadline)
            if lane is not None:
                admission.release(lane)
                observer.ended()
        return _finish(request, state, route, response, start, request_id, who)

    wrapped = functools.update_wrapper(run, handler)
    setattr(wrapped, IN_CONTEXT, True)
    return wrapped


def _finish(
    request: web.Request,
    state: HttpState,
    route: str,
    response: web.StreamResponse,
    start: float,
    request_id: str,
    who: Principal | None,
    shed: bool = False,
) -> web.StreamResponse:
    """Count the request; log it if the access-log policy wants it (never a refusal by
    admission: a line each would cost the CPU that shedding is there to save)."""
    status = response.status
    if status == CLIENT_GONE:
        state.metrics.client_gone.inc()
    response.headers["X-Request-Id"] = request_id
    elapsed = time.perf_counter() - start
    method = request.method
    state.observer.observe(route, method, status, elapsed, who.agency_label if who else None)
    if not shed and state.access_log.wanted(status, elapsed):
        _log(request_id, who, route, method, status, elapsed)
    return response


def _log(
    request_id: str, who: Principal | None, route: str, method: str, status: int, elapsed: float
) -> None:
    level = logging.DEBUG if status == CLIENT_GONE else logging.INFO
    if log.isEnabledFor(level):
        log.log(
            level,
            "request",
            extra={
                "request_id": request_id,
                "agency": who.agency if who else None,
                "route": route,
                "method": method,
                "status": status,
                "latency_ms": round(elapsed * 1000, 3),
            },
        )


def _timeout_response() -> web.Response:
    return problems.problem("timeout", "the request took too long", retry_after=1)


def _error_response(request: web.Request, e: Exception) -> web.Response | None:
    """The answer to a request whose handler raised ``e``; None: re-raise it."""
    if isinstance(e, ValidationError):
        return problems.from_validation(e)
    if isinstance(e, ServiceError):
        return problems.from_service(e)
    if isinstance(e, web.HTTPException):
        return problems.from_http(e)
    if isinstance(e, TimeoutError):  # a bounded call of the handler's own ran out
        return _timeout_response()
    if isinstance(e, ConnectionResetError | ClientConnectionResetError):
        # the client hung up mid-request: not our error
        return _gone_response() if client_gone(request) else None
    # a bug: answer problem+json, log its kind (never its message)
    extra = {"error": type(e).__name__, "request_id": request[REQUEST_ID]}
    log.error("unhandled error", extra=extra)
    return problems.problem("internal_error", "an unexpected error; it has been logged")


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
