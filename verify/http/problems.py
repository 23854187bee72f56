"""One place mapping our errors to RFC 9457 problem+json responses with a stable ``code``."""

from __future__ import annotations

import math

import orjson
from aiohttp import web

from verify.domain.errors import ValidationError
from verify.errors import ServiceError

PROBLEM_TYPE = "https://citizen-verify.example/problems/"

_STATUS: dict[str, tuple[int, str]] = {
    "unauthorized": (401, "Unauthorized"),
    "forbidden_scope": (403, "Forbidden"),
    "purpose_not_allowed": (403, "Forbidden"),
    "not_found": (404, "Not Found"),
    "method_not_allowed": (405, "Method Not Allowed"),
    "body_too_large": (413, "Payload Too Large"),
    "job_too_large": (413, "Payload Too Large"),
    "too_many_items": (413, "Payload Too Large"),
    "unsupported_media_type": (415, "Unsupported Media Type"),
    "attempts_exceed_quota": (422, "Unprocessable Content"),
    "rate_limited": (429, "Too Many Requests"),
    "too_many_attempts": (429, "Too Many Requests"),
    "overloaded": (503, "Service Unavailable"),
    "timeout": (503, "Service Unavailable"),
    "database_unavailable": (503, "Service Unavailable"),
    "shutting_down": (503, "Service Unavailable"),
    "internal_error": (500, "Internal Server Error"),
}


def problem_body(code: str, detail: str, field: str | None = None) -> dict[str, object]:
    status, title = _STATUS.get(code, (400, "Bad Request"))
    body: dict[str, object] = {
        "type": PROBLEM_TYPE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field is not None:
        body["field"] = field
    return body


def problem(
    code: str,
    detail: str,
    *,
    field: str | None = None,
    retry_after: float | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = problem_body(code, detail, field)
    all_headers = dict(headers or {})
    if retry_after is not None:
        all_headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return web.Response(
        body=orjson.dumps(body),
        status=int(str(body["status"])),
        content_type="application/problem+json",
        headers=all_headers,
    )


def from_validation(e: ValidationError) -> web.Response:
    return problem(e.code, e.detail, field=e.field)


def from_service(e: ServiceError) -> web.Response:
    retry = e.retry_after
    if retry is None and e.code in ("overloaded", "database_unavailable", "timeout"):
        retry = 1.0
    return problem(e.code, e.detail, retry_after=retry)


def from_http(e: web.HTTPException) -> web.Response:
    codes = {
        401: "unauthorized",
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        415: "unsupported_media_type",
    }
    code = codes.get(e.status, "invalid_request")
    detail = e.text if e.status != 413 else "the request body is larger than the server accepts"
    allow = e.headers.get("Allow")
    response = problem(code, detail or e.reason, headers={"Allow": allow} if allow else None)
    if e.status != 400 and code == "invalid_request":
        response.set_status(e.status)
    return response
