"""Every route runs in the request context without an aiohttp middleware (ContextRouter):
routes added after ``http_app`` too, and requests that match no route."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from pytest_aiohttp import AiohttpClient

from tests.unit.test_settings import BASE
from verify.http.app import http_app
from verify.http.middleware import IN_CONTEXT
from verify.metrics import Metrics
from verify.settings import Settings


def _app() -> web.Application:
    return http_app(Settings.from_env(BASE), today=lambda: dt.date(2026, 11, 30), metrics=Metrics())


async def test_no_middleware_and_every_route_wrapped_once(aiohttp_client: AiohttpClient) -> None:
    app = _app()

    async def late(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    app.router.add_get("/late", late)  # as a test or a plugin would, after http_app
    client = await aiohttp_client(app)
    assert not app.middlewares
    for route in app.router.routes():
        assert getattr(route.handler, IN_CONTEXT, False)
        assert not getattr(route.handler.__wrapped__, IN_CONTEXT, False)  # type: ignore[attr-defined]
    response = await client.get("/late")
    assert response.status == 500
    assert response.headers["Content-Type"] == "application/problem+json"
    assert (await response.json(content_type=None))["code"] == "internal_error"
    assert len(response.headers["X-Request-Id"]) == 32


async def test_unmatched_requests_get_problems_and_an_id(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(_app())
    missing = await client.get("/nowhere", headers={"X-Request-Id": "abc-1"})
    assert missing.status == 404
    assert (await missing.json(content_type=None))["code"] == "not_found"
    assert missing.headers["X-Request-Id"] == "abc-1"
    wrong = await client.post("/healthz")  # /v1 paths authenticate first (no key store here)
    assert wrong.status == 405
    assert wrong.headers["Allow"] == "GET"
    assert (await wrong.json(content_type=None))["code"] == "method_not_allowed"
    assert "X-Request-Id" in wrong.headers
