"""The OpenAPI 3.1 description of the API (kept true by tests/e2e/test_openapi.py)."""

from __future__ import annotations

import html
from typing import Any

from verify.http.openapi_claims import (
    AN_FIELDS,
    AN_QR,
    ANY_ITEM,
    ID_NUMBER,
    PURPOSE,
    VERIFY_REQUEST,
)
from verify.http.openapi_jobs import JOB_PATHS, JOB_SCHEMA

_PROBLEM = {"$ref": "#/components/responses/Problem"}


def _problems(*codes: str) -> dict[str, Any]:
    return {code: _PROBLEM for code in codes}


_VERIFY_REQUEST = {"$ref": "#/components/schemas/VerifyRequest"}
_PATH_ID = ID_NUMBER  # the path segment of /v1/citizens/{id_number}

_PURPOSE_PARAM: dict[str, Any] = {
    "name": "purpose",
    "in": "query",
    "required": True,
    "description": "Why; one of the key's purposes when it has a list (else 403).",
    "schema": {"type": "string", "pattern": PURPOSE},
    "example": "kyc",
}

_FIELD_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["result"],
    "properties": {
        "result": {"enum": ["match", "partial", "no_match", "not_provided"]},
        "rule": {
            "enum": [
                "exact",
                "ascii_folded",
                "airline",
                "marks_differ",
                "reordered",
                "fuzzy",
                "year_only",
                "day_month_swapped",
            ]
        },
    },
    "additionalProperties": False,
}

_VERIFY_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["verdict", "fields", "reasons"],
    "properties": {
        "request_id": {"type": "string", "description": "Single verify only."},
        "line": {"type": "integer", "description": "Job results only: the record's line."},
        "reference": {"type": ["string", "null"]},
        "verdict": {"enum": ["match", "no_match", "not_found"]},
        "fields": {
            "type": "object",
            "description": "Empty when the verdict is not_found.",
            "properties": {
                "full_name": {"$ref": "#/components/schemas/FieldResult"},
                "date_of_birth": {"$ref": "#/components/schemas/FieldResult"},
                "gender": {"$ref": "#/components/schemas/FieldResult"},
                "booking_name": {
                    "$ref": "#/components/schemas/FieldResult",
                    "description": "Only when the claim gave a booking_name.",
                },
                "card": {
                    "type": "object",
                    "properties": {
                        "result": {
                            "enum": [
                                "valid",
                                "expired",
                                "revoked",
                                "superseded",
                                "unknown_card",
                                "not_provided",
                            ]
                        }
                    },
                },
            },
        },
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
}

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "field": {"type": "string"},
        "index": {"type": "integer", "description": "Batch item position (0-based)."},
        "line": {"type": "integer", "description": "Stream or job input line (1-based)."},
        "reference": {"type": "string", "description": "The item's reference, echoed."},
        "retry_after": {
            "type": "integer",
            "description": (
                "Seconds until the item may be retried (an item refused with 429 "
                "`too_many_attempts`: the per-person probing limit). Absent from 422 "
                "`attempts_exceed_quota`: the request held more attempts on one person than "
                "a rolling day allows, so no wait would let them through; send fewer."
            ),
        },
    },
}


def _static(summary: str, media_type: str) -> dict[str, Any]:
    """A file of the counter page: no key needed (the page asks for one), ETag revalidation."""
    return {
        "get": {
            "security": [],
            "summary": summary,
            "responses": {
                "200": {
                    "description": "The file (Cache-Control: no-cache, with an ETag)",
                    "content": {media_type: {"schema": {"type": "string"}}},
                },
                "304": {"description": "Not modified (If-None-Match matched the ETag)"},
            },
        }
    }


def _json(schema: dict[str, Any], **examples: Any) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = {name: {"value": value} for name, value in examples.items()}
    return {"content": {"application/json": media}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, **_json(schema)}


_BATCH_RESULT = {
    "type": "object",
    "properties": {
        "request_id": {"type": "string"},
        "results": {
            "type": "array",
            "items": {
                "oneOf": [
                    {"$ref": "#/components/schemas/VerifyResult"},
                    {"$ref": "#/components/schemas/Problem"},
                ]
            },
        },
    },
}

_ID_PARAM: dict[str, Any] = {
    "name": "id_number",
    "in": "path",
    "required": True,
    "description": "12-digit personal ID or former 9-digit CMND number",
    "schema": {"type": "string", "pattern": _PATH_ID},
    "example": "001203012345",
}

_GROUP = "\\s*(?:basic|residence|cards)\\s*"
_GROUPS = f"^\\s*$|^{_GROUP}(?:,{_GROUP})*$"  # blank: every group the key allows

_STREAM_BODY: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": ANY_ITEM,
    "example": [AN_FIELDS, AN_QR],
}

_PROFILE: dict[str, Any] = {
    "type": "object",
    "required": ["request_id", "purpose", "id_number"],
    "properties": {
        "request_id": {"type": "string"},
        "purpose": {"type": "string"},
        "id_number": {"type": "string"},
        "basic": {
            "type": "object",
            "properties": {
                "full_name": {"type": "string"},
                "date_of_birth": {"type": "string", "description": "YYYY-MM-DD or YYYY"},
                "gender": {"enum": ["male", "female"]},
            },
        },
        "residence": {
            "type": "object",
            "properties": {
                "province_code": {"type": "string"},
                "province": {"type": ["string", "null"]},
                "address": {"type": "string"},
            },
        },
        "cards": {
            "type": "array",
            "description": "Newest first.",
            "items": {
                "type": "object",
                "properties": {
                    "issue_date": {"type": "string"},
                    "expiry_date": {"type": ["string", "null"]},
                    "status": {"enum": ["valid", "expired", "revoked", "superseded"]},
                },
            },
        },
    },
}

_HISTORY: dict[str, Any] = {
    "type": "object",
    "required": ["request_id", "items", "next_cursor"],
    "properties": {
        "request_id": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "agency": {"type": "string"},
                    "at": {"type": "string", "format": "date-time"},
                    "kind": {
                        "enum": ["verify", "batch_item", "stream", "lookup", "history", "job"]
                    },
                    "purpose": {"type": ["string", "null"]},
                    "verdict": {"type": ["string", "null"]},
                    "fields": {"type": ["array", "null"], "items": {"type": "string"}},
                    "terminal": {
                        "type": ["string", "null"],
                        "description": "The counter or kiosk that made the check, if it said.",
                    },
                },
            },
        },
        "next_cursor": {"type": ["string", "null"]},
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "citizen-verify",
        "version": "1",
        "description": "Identity verification and lookup against the population register.",
    },
    "security": [{"bearer": []}],
    "paths": {
        "/v1/verify": {
            "post": {
                "summary": "Verify one identity claim (fields or QR payload). Scope: verify.",
                "requestBody": {
                    "required": True,
                    **_json(_VERIFY_REQUEST, fields=AN_FIELDS, qr=AN_QR),
                },
                "responses": {
                    "200": _ok("The verdict", {"$ref": "#/components/schemas/VerifyResult"}),
                    **_problems("400", "401", "403", "413", "429", "503"),
                },
            }
        },
        "/v1/verify/batch": {
            "post": {
                "summary": "Verify up to 1,000 claims; invalid items get a problem in place.",
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["items"],
                            "properties": {
                                "items": {
                                    "type": "array",
                                    "maxItems": 1000,
                                    "items": ANY_ITEM,
                                },
                                "purpose": {
                                    "type": "string",
                                    "pattern": PURPOSE,
                                    "description": "For the items that state none.",
                                },
                            },
                            "examples": [{"items": [AN_FIELDS, AN_QR, {"id_number": "1"}]}],
                        }
                    ),
                },
                "responses": {
                    "200": _ok("Results in request order", _BATCH_RESULT),
                    **_problems("400", "401", "403", "413", "429", "503"),
                },
            }
        },
        "/v1/verify/stream": {
            "post": {
                "summary": (
                    "NDJSON in, NDJSON out: one result line per input line, in order, written "
                    "while the upload is still arriving. Paced to the key's rate limit. A "
                    "failure ends the stream after problem lines for the lines in hand. "
                    "Scope: verify."
                ),
                "parameters": [
                    {
                        "name": "purpose",
                        "in": "query",
                        "description": "For the lines that state none.",
                        "schema": {"type": "string", "pattern": PURPOSE},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "description": "One claim per line (an array here: item n is line n). An "
                    "empty body (no line) is refused with 400.",
                    "content": {
                        "application/x-ndjson": {
                            "schema": {"$ref": "#/components/schemas/NdjsonClaims"}
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": (
                            "One line per input line: a VerifyResult, or a Problem with the "
                            "input's line number in `line`"
                        ),
                        "content": {
                            "application/x-ndjson": {
                                "schema": {
                                    "type": "array",
                                    "description": "Line n answers input line n.",
                                    "items": {
                                        "oneOf": [
                                            {"$ref": "#/components/schemas/VerifyResult"},
                                            {"$ref": "#/components/schemas/Problem"},
                                        ]
                                    },
                                }
                            }
                        },
                    },
                    **_problems("400", "401", "403", "429", "503"),
                },
            }
        },
        "/v1/citizens/{id_number}": {
            "get": {
                "summary": (
                    "Attribute lookup with a stated purpose; only the groups the key's scopes "
                    "allow (lookup:basic, lookup:residence, lookup:cards). Audited."
                ),
                "parameters": [
                    _ID_PARAM,
                    _PURPOSE_PARAM,
                    {
                        "name": "fields",
                        "in": "query",
                        "description": "basic,residence,cards (default: all the key allows)",
                        "schema": {"type": "string", "pattern": _GROUPS},
                        "example": "basic,cards",
                    },
                ],
                "responses": {
                    "200": _ok("The allowed attributes", _PROFILE),
                    **_problems("400", "401", "403", "404", "429", "503"),
                },
            }
        },
        "/v1/citizens/{id_number}/access-history": {
            "get": {
                "summary": (
                    "Who verified or looked up this citizen: last 180 days, newest first, "
                    "paged. Scope: citizen:history. Each read is itself audited (kind "
                    "`history`) and shows in the next one."
                ),
                "parameters": [
                    _ID_PARAM,
                    _PURPOSE_PARAM,
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                ],
                "responses": {
                    "200": _ok("One page", _HISTORY),
                    **_problems("400", "401", "403", "429", "503"),
                },
            }
        },
        "/counter": _static(
            "The airport counter page: sign in with the terminal's verify key, scan card QR "
            "codes (text + Enter), the answer in Vietnamese. Static, same-origin, strict CSP.",
            "text/html",
        ),
        "/counter/app.js": _static("The counter page's script.", "text/javascript"),
        "/counter/app.css": _static("The counter page's style sheet.", "text/css"),
        "/healthz": {
            "get": {
                "security": [],
                "summary": "The process is alive (touches no dependency). Readiness and metrics "
                "are on the operations port (VERIFY_METRICS_PORT), not here.",
                "responses": {"200": _ok("Alive", {"type": "object"})},
            }
        },
        "/openapi.json": {
            "get": {
                "security": [],
                "summary": "This document.",
                "responses": {"200": _ok("OpenAPI", {"type": "object"})},
            }
        },
        "/docs": {
            "get": {
                "security": [],
                "summary": "Human-readable API documentation.",
                "responses": {
                    "200": {
                        "description": "HTML",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "VerifyRequest": VERIFY_REQUEST,
            "NdjsonClaims": _STREAM_BODY,
            "FieldResult": _FIELD_RESULT,
            "VerifyResult": _VERIFY_RESULT,
            "Problem": _PROBLEM_SCHEMA,
            "Job": JOB_SCHEMA,
        },
        "responses": {
            "Problem": {
                "description": (
                    "An error (RFC 9457); 429 and 503 carry Retry-After. 429 is "
                    "`rate_limited` (the key's rate) or `too_many_attempts` (more than "
                    "VERIFY_SUBJECT_ATTEMPTS_PER_DAY verify attempts on one person by one "
                    "agency in a rolling day)."
                ),
                "content": {"application/problem+json": {"schema": _PROBLEM_SCHEMA}},
            }
        },
    },
}

SPEC["paths"].update(JOB_PATHS)


def docs_html() -> str:
    """A self-contained page listing the operations (no external scripts)."""
    rows = []
    for path, ops in SPEC["paths"].items():
        for method, op in ops.items():
            codes = ", ".join(op["responses"])
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code>"
                f"</td><td>{html.escape(op['summary'])}</td><td>{codes}</td></tr>"
            )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>citizen-verify API</title>"
        "</head><body><h1>citizen-verify API v1</h1>"
        "<p>Machine-readable description: <a href='/openapi.json'>/openapi.json</a>. "
        "Authenticate with <code>Authorization: Bearer &lt;api key&gt;</code>.</p>"
        "<table border='1' cellpadding='4'><tr><th>method</th><th>path</th><th>what</th>"
        f"<th>responses</th></tr>{''.join(rows)}</table></body></html>"
    )
