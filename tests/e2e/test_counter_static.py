"""GET /counter and its assets: served from the package with their type, cache and
security headers; nothing that needs another origin or an inline script."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Client
from verify.http.counter import ASSETS

TYPES = {
    "/counter": "text/html",
    "/counter/app.js": "text/javascript",
    "/counter/app.css": "text/css",
}


@pytest.mark.parametrize("path", sorted(TYPES))
async def test_served_with_type_cache_and_security_headers(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == TYPES[path]
    assert response.charset == "utf-8"
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-cache"
    csp = dict(d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    assert "unsafe" not in headers["Content-Security-Policy"]
    body = await response.read()
    assert body, path


async def test_revalidation_with_the_etag_is_304(client: Client) -> None:
    first = await client.get("/counter/app.js")
    etag = first.headers["ETag"]
    again = await client.get("/counter/app.js", headers={"If-None-Match": etag})
    assert again.status == 304 and await again.read() == b""
    assert again.headers["ETag"] == etag
    other = await client.get("/counter/app.js", headers={"If-None-Match": '"something-else"'})
    assert other.status == 200


async def test_page_has_no_inline_script_or_style_and_no_other_origin(client: Client) -> None:
    html = await (await client.get("/counter")).text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all(
        'src="/counter/' in attrs and not body.strip() for attrs, body in scripts
    )
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    for path in TYPES:
        text = await (await client.get(path)).text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, flags=re.I), path


async def test_the_hooks_the_counter_relies_on_are_in_the_page(client: Client) -> None:
    html = await (await client.get("/counter")).text()
    for name in ("key", "terminal", "scan", "booking"):
        assert f'name="{name}"' in html
    assert 'id="answer"' in html and "data-verdict=" in html


def test_every_asset_is_a_route() -> None:
    assert set(ASSETS) == set(TYPES)
