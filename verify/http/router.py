"""The router of the API app: every handler runs in the request context, without aiohttp's
middleware machinery (see :class:`ContextRouter`)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError, UrlMappingMatchInfo

from verify.http.middleware import IN_CONTEXT, Bound, Handler, in_context


async def _unmatched(request: web.Request) -> web.StreamResponse:
    """The handler of a request no route matched: its 404 or 405, mapped to a problem."""
    exception = request.match_info.http_exception
    assert exception is not None
    raise exception


class _Unmatched(MatchInfoError):
    """aiohttp's answer to a request no route matched, its handler in the request context."""

    __slots__ = ("_in_context",)

    def __init__(self, exception: web.HTTPException, handler: Handler) -> None:
        super().__init__(exception)
        self._in_context = handler

    @property
    def handler(self) -> Handler:
        return self._in_context


class ContextRouter(web.UrlDispatcher):
    """aiohttp's router, each route's handler wrapped in the request context when the app
    is frozen (at startup: every route is known then, and none can be added later), and
    the requests no route matches answered in that context too.

    This replaces a middleware: with any middleware, aiohttp builds (or finds in a cache)
    the handler chain per request and adds its own ``_fix_request_current_app`` middleware,
    a further coroutine frame around every handler that each resumption of the request's
    task passes through. aiohttp's maintainers suggest wrapping handlers instead
    (aio-libs/aiohttp#3387); the router does it so that no route can miss it. Routes are
    added through several public calls (``add_get`` goes through the resource, not
    ``add_route``), so the handler is swapped on the route itself, once."""

    def __init__(self) -> None:
        super().__init__()
        self._bound = Bound()
        self._unmatched = in_context(_unmatched, "unmatched", self._bound)

    def freeze(self) -> None:
        if not self.frozen:
            bound = self._bound
            for route in self.routes():
                if not getattr(route.handler, IN_CONTEXT, False):
                    template = route.resource.canonical if route.resource else "unmatched"
                    wrapped = in_context(route.handler, template, bound)
                    route._handler = wrapped  # type: ignore[assignment]
        super().freeze()

    async def resolve(self, request: web.Request) -> UrlMappingMatchInfo:
        info = await super().resolve(request)
        exception = info.http_exception
        return info if exception is None else _Unmatched(exception, self._unmatched)
