"""Handlers of /v1/citizens/{id_number}: attribute lookup and access history."""

from __future__ import annotations

from aiohttp import web

from verify.domain.claims import parse_purpose
from verify.domain.disclosure import parse_groups
from verify.domain.errors import ValidationError
from verify.domain.id_number import parse_id_number
from verify.errors import ForbiddenScope
from verify.http.appkeys import LIMITER, LOOKUP_DEPS
from verify.http.middleware import PRINCIPAL, REQUEST_ID
from verify.http.ops import json_response
from verify.http.problems import problem
from verify.service.attributes import access_history, lookup_citizen
from verify.service.audit import RequestContext
from verify.service.limits import charge

MAX_PAGE = 200
DEFAULT_PAGE = 50


def _purpose(request: web.Request) -> str:
    raw = request.query.get("purpose")
    if raw is None:
        raise ValidationError("missing_field", "purpose is required for a lookup", "purpose")
    return parse_purpose(raw)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_PAGE))
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= MAX_PAGE:
        raise ValidationError("invalid_field", f"limit is 1 to {MAX_PAGE}", "limit")
    return int(raw)


async def get_citizen(request: web.Request) -> web.StreamResponse:
    who = request[PRINCIPAL]
    id_number = parse_id_number(request.match_info["id_number"])
    purpose = _purpose(request)
    groups, missing = parse_groups(request.query.get("fields"), who.scopes)
    if missing:
        raise ForbiddenScope(f"this API key lacks the scope(s) {', '.join(missing)}")
    await charge(who, 1, request.app[LIMITER])
    deps = request.app[LOOKUP_DEPS]
    request_id: str = request[REQUEST_ID]
    ctx = RequestContext(who.agency_id, request_id, "lookup", deps.now())
    found = await lookup_citizen(id_number, groups, purpose, ctx, deps)
    if found is None:
        return problem("not_found", "no citizen has this ID number")
    return json_response({"request_id": request_id, "purpose": purpose, **found})


async def get_access_history(request: web.Request) -> web.Response:
    who = request[PRINCIPAL]
    who.require("citizen:history")
    id_number = parse_id_number(request.match_info["id_number"])
    limit = _limit(request)
    await charge(who, 1, request.app[LIMITER])
    page = await access_history(
        id_number, request.query.get("cursor"), limit, request.app[LOOKUP_DEPS]
    )
    request_id: str = request[REQUEST_ID]
    return json_response({"request_id": request_id, **page})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/citizens/{id_number}", get_citizen, allow_head=False)
    app.router.add_get(
        "/v1/citizens/{id_number}/access-history", get_access_history, allow_head=False
    )
