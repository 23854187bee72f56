"""The OpenAPI description of bulk jobs, merged into verify/http/openapi.py's SPEC."""

from __future__ import annotations

from typing import Any

from verify.http.openapi_claims import NON_WS

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_JOB_REF = {"$ref": "#/components/schemas/Job"}
_JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _problems(*codes: str) -> dict[str, Any]:
    return {code: _PROBLEM for code in codes}


def _job(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _JOB_REF}}}


JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["job_id", "state", "lines_total", "lines_done", "counts", "created_at"],
    "properties": {
        "job_id": {"type": "string", "format": "uuid"},
        "state": {"enum": ["queued", "running", "done", "failed", "cancelled"]},
        "purpose": {"type": "string"},
        "format": {"enum": ["ndjson", "csv"]},
        "lines_total": {"type": "integer", "description": "Records in the upload."},
        "lines_done": {"type": "integer", "description": "Records answered and audited."},
        "counts": {
            "type": "object",
            "description": (
                "Lines done by verdict; invalid: lines answered with a problem (unreadable, "
                "or refused by the per-person probing limit: `too_many_attempts`, or "
                "`attempts_exceed_quota` when one chunk held more lines on one person than "
                "a rolling day allows)."
            ),
            "properties": {
                k: {"type": "integer"} for k in ("match", "no_match", "not_found", "invalid")
            },
        },
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": ["string", "null"], "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
        "error": {"type": "string", "description": "Why a failed job failed."},
        "status_url": {"type": "string"},
        "results_url": {"type": "string"},
    },
}

_CSV_UPLOAD = (
    "A header row naming columns among id_number (required), full_name, date_of_birth, "
    "gender, card_issue_date, reference; status, former_id, province_code and address "
    "(a `verify load` file's) are accepted and ignored."
)

# a header row (here in one order of its columns; any order is accepted), then rows, one
# at least that is not blank (an upload without a record is refused)
_CSV_PATTERN = (
    "^id_number(?:,full_name)?(?:,date_of_birth)?(?:,gender)?(?:,card_issue_date)?"
    "(?:,reference)?\\r?\\n(?:[^\\r\\n]*\\r?\\n)*"
    f"[^\\r\\n]*{NON_WS}[^\\r\\n]*(?:\\r?\\n[^\\r\\n]*)*$"
)

_RESULT_LINES = {  # NDJSON as the stream's answer is described: one line per item
    "type": "array",
    "description": "One NDJSON line per item, in input order.",
    "items": {
        "oneOf": [
            {"$ref": "#/components/schemas/VerifyResult"},
            {"$ref": "#/components/schemas/Problem"},
        ],
        "description": "With `line`: the record's line in the upload (1-based).",
    },
}

JOB_PATHS: dict[str, Any] = {
    "/v1/jobs": {
        "post": {
            "summary": (
                "Submit a bulk job: NDJSON claims or CSV, any size, stored in chunks; 202 once "
                "all of it is durable. Idempotency-Key: a retry returns the same job (200). "
                "Every line is verified with the job's purpose. Scope: verify."
            ),
            "parameters": [
                {
                    "name": "purpose",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
                },
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-ndjson": {
                        "schema": {"$ref": "#/components/schemas/NdjsonClaims"}
                    },
                    "text/csv": {
                        "schema": {
                            "type": "string",
                            "description": _CSV_UPLOAD,
                            "pattern": _CSV_PATTERN,
                            "example": "id_number,full_name\n001203012345,Nguyễn Văn An\n",
                        }
                    },
                },
            },
            "responses": {
                "202": _job("Stored and queued; Location is the status URL"),
                "200": _job("The job an earlier upload with this Idempotency-Key made"),
                **_problems("400", "401", "403", "413", "415", "503"),
            },
        }
    },
    "/v1/jobs/{job_id}": {
        "get": {
            "summary": (
                "A job's state, progress and counts by verdict. Scope: verify. A job "
                "finished more than VERIFY_JOB_RETENTION_DAYS (7) days ago is deleted with "
                "its results: 404 not_found, as for an unknown job or another agency's."
            ),
            "parameters": [_JOB_ID],
            "responses": {"200": _job("The job"), **_problems("401", "403", "404", "503")},
        },
        "delete": {
            "summary": (
                "Cancel a queued or running job (workers stop at their next chunk); a "
                "finished job is left as it is. Scope: verify."
            ),
            "parameters": [_JOB_ID],
            "responses": {
                "200": _job("The job, cancelled unless it had finished"),
                **_problems("401", "403", "404", "503"),
            },
        },
    },
    "/v1/jobs/{job_id}/results": {
        "get": {
            "summary": (
                "One result per record, in input order, each with its `line`: NDJSON, or CSV "
                "with Accept: text/csv. A finished job (done, cancelled, failed) serves every "
                "line done; a queued or running one the lines done so far with none missing "
                "(up to the first chunk not done yet) and X-Results-Partial: true: ask again "
                "later for the rest. X-Job-State gives the state. Scope: verify. "
                "404 once the job is deleted (VERIFY_JOB_RETENTION_DAYS after it ended)."
            ),
            "parameters": [_JOB_ID],
            "responses": {
                "200": {
                    "description": "The results, streamed chunk by chunk",
                    "headers": {
                        "X-Job-State": {
                            "description": "The job's state when the answer started",
                            "schema": {
                                "enum": ["queued", "running", "done", "failed", "cancelled"]
                            },
                        },
                        "X-Results-Partial": {
                            "description": (
                                "true: the job was still queued or running, these are the "
                                "lines done so far (a prefix of the results, none missing)"
                            ),
                            "schema": {"enum": ["true", "false"]},
                        },
                    },
                    "content": {
                        "application/x-ndjson": {"schema": _RESULT_LINES},
                        "text/csv": {
                            "schema": {
                                "type": "string",
                                "description": (
                                    "line, reference, verdict, reasons (;-separated), "
                                    "full_name, date_of_birth, gender, card (result/rule), "
                                    "error_code, error_field"
                                ),
                            }
                        },
                    },
                },
                **_problems("401", "403", "404", "503"),
            },
        }
    },
}
