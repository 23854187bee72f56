"""What the sync and async job clients share (no I/O but reading the upload file)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from citizen_verify_client.errors import JobFailed
from citizen_verify_client.types import FINAL_STATES, JobLine, JobStatus

CHUNK_BYTES = 256 * 1024
NDJSON = "application/x-ndjson"
CSV = "text/csv"
POLL_MIN_S = 0.5
POLL_MAX_S = 5.0


def content_type(path: Path, given: str | None) -> str:
    if given is not None:
        return given
    return CSV if path.suffix.lower() == ".csv" else NDJSON


def upload_headers(kind: str, idempotency_key: str | None) -> dict[str, str]:
    """An Idempotency-Key always: a retried upload must return the same job, not a second one."""
    return {"Content-Type": kind, "Idempotency-Key": idempotency_key or uuid.uuid4().hex}


def read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def job_path(job_id: str, tail: str = "") -> str:
    return f"/v1/jobs/{quote(job_id, safe='')}{tail}"


def finished(status: JobStatus) -> JobStatus | None:
    """The status when the job is over: itself when done, JobFailed when failed/cancelled."""
    if status["state"] not in FINAL_STATES:
        return None
    if status["state"] != "done":
        raise JobFailed(status["job_id"], status["state"])
    return status


def next_poll(previous: float) -> float:
    return min(POLL_MAX_S, previous * 1.5)


def result_line(raw: str, last: int) -> JobLine | None:
    """A results line, or None when it is blank or was already seen before a reconnect."""
    if not raw.strip():
        return None
    line = cast(JobLine, json.loads(raw))
    return line if line["line"] > last else None


def as_status(body: Any) -> JobStatus:
    return cast(JobStatus, body)
