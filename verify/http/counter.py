"""The airport counter page (GET /counter and its two assets), shipped in the package.

Static files read once when the routes are added, served from memory with an ETag
(``no-cache``: a counter PC revalidates, so a new release is picked up at the next
load), a strict Content-Security-Policy (no inline script or style, no other origin)
and ``nosniff``. The page calls /v1/verify on the same origin with the terminal's key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

PACKAGE = "verify.http"
FOLDER = ("static", "counter")

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# route path -> (file, content type)
ASSETS = {
    "/counter": ("index.html", "text/html; charset=utf-8"),
    "/counter/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/counter/app.css": ("app.css", "text/css; charset=utf-8"),
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_asset(name: str, content_type: str) -> Asset:
    body = resources.files(PACKAGE).joinpath(*FOLDER, name).read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body, content_type, etag)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


def handler(asset: Asset) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache"}
        if _matches(request.headers.get("If-None-Match"), asset.etag):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = asset.content_type
        return web.Response(body=asset.body, headers=headers)

    return serve


def add_routes(app: web.Application) -> None:
    for path, (name, content_type) in ASSETS.items():
        app.router.add_get(path, handler(load_asset(name, content_type)), allow_head=False)
