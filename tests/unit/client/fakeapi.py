"""A hand-written fake of the API's jobs and stream contract (DESIGN.md), for the client.

It misbehaves on purpose, as the real service may: the first upload gets a 503, a
results download is cut mid-way, a stream window ends early with retryable problems.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx


def answer(claim: dict[str, Any]) -> dict[str, Any]:
    verdict = "match" if claim.get("full_name") == "Nguyễn Văn An" else "no_match"
    fields = {"full_name": {"result": verdict}}
    return {"verdict": verdict, "fields": fields, "reasons": [] if verdict == "match" else ["x"]}


class CutStream(httpx.SyncByteStream):
    def __init__(self, lines: list[bytes], cut_after: int) -> None:
        self._lines, self._cut = lines, cut_after

    def __iter__(self) -> Iterator[bytes]:
        yield b"".join(self._lines[: self._cut])
        raise httpx.ReadError("connection reset")


@dataclass
class FakeApi:
    token: str = "secret"
    jobs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    idempotency: dict[str, str] = field(default_factory=dict)
    uploads: list[str] = field(default_factory=list)  # Idempotency-Key of each attempt
    results_reads: int = 0
    stream_calls: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._problem(401, "unauthorized")
        path, method = request.url.path, request.method
        if (method, path) == ("POST", "/v1/jobs"):
            return self._submit(request)
        if (method, path) == ("POST", "/v1/verify/stream"):
            return self._stream(request)
        job_id = path.split("/")[3]
        if job_id not in self.jobs:
            return self._problem(404, "not_found")
        if path.endswith("/results"):
            return self._results(job_id)
        if method == "DELETE":
            return httpx.Response(202, json={"job_id": job_id, "state": "cancelled"})
        return httpx.Response(200, json=self._status(job_id))

    def _problem(self, status: int, code: str, retry_after: str | None = None) -> httpx.Response:
        body = {"type": "x", "title": "x", "status": status, "detail": code, "code": code}
        headers = {"Content-Type": "application/problem+json"}
        if retry_after:
            headers["Retry-After"] = retry_after
        return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)

    def _submit(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        self.uploads.append(key)
        assert request.url.params["purpose"] == "kyc"
        assert request.headers["Content-Type"] == "application/x-ndjson"
        if len(self.uploads) == 1:
            request.read()
            return self._problem(503, "overloaded", "0")
        job_id = self.idempotency.setdefault(key, f"job{len(self.jobs) + 1}")
        claims = [json.loads(line) for line in request.read().splitlines() if line.strip()]
        self.jobs[job_id] = claims
        urls = {"status_url": f"/v1/jobs/{job_id}", "results_url": f"/v1/jobs/{job_id}/results"}
        return httpx.Response(202, json={"job_id": job_id, **urls})

    def _status(self, job_id: str) -> dict[str, Any]:
        n = self.polls[job_id] = self.polls.get(job_id, 0) + 1
        total = len(self.jobs[job_id])
        done = min(total, (n - 1) * max(1, total // 2))
        state = "queued" if n == 1 else ("done" if done == total else "running")
        return {"job_id": job_id, "state": state, "lines_total": total, "lines_done": done}

    def _results(self, job_id: str) -> httpx.Response:
        self.results_reads += 1
        lines = [
            json.dumps({"line": n, **answer(c)}).encode() + b"\n"
            for n, c in enumerate(self.jobs[job_id], 1)
        ]
        headers = {"Content-Type": "application/x-ndjson"}
        if self.results_reads == 1 and len(lines) > 2:
            return httpx.Response(200, stream=CutStream(lines, 2), headers=headers)
        return httpx.Response(200, content=b"".join(lines), headers=headers)

    def _stream(self, request: httpx.Request) -> httpx.Response:
        """The first call answers half the lines, then a retryable problem and the end."""
        self.stream_calls += 1
        claims = [json.loads(line) for line in request.read().splitlines()]
        out: list[dict[str, Any]] = [answer(c) for c in claims]
        if self.stream_calls == 1 and len(claims) > 1:
            half = len(claims) // 2
            cut = {"line": half + 1, "code": "database_unavailable", "status": 503}
            out = [*out[:half], cut]
        body = b"".join(json.dumps(r).encode() + b"\n" for r in out)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/x-ndjson"})
