"""Bulk jobs (POST/GET/DELETE /v1/jobs): submit a file, wait with progress, read results."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import httpx

from citizen_verify_client import _jobs
from citizen_verify_client.errors import TransportError
from citizen_verify_client.retry import Attempts
from citizen_verify_client.types import JobCreated, JobLine, JobStatus

if TYPE_CHECKING:
    from citizen_verify_client.client import Client

Progress = Callable[[JobStatus], None]


class Jobs:
    """``client.jobs``: resumable bulk jobs for files of millions of lines."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def submit(
        self,
        path: str | Path,
        *,
        purpose: str | None = None,
        content_type: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobCreated:
        """Upload an NDJSON (or ``.csv``: CSV with the `verify load` columns) file of claims."""
        path = Path(path)
        kind = _jobs.content_type(path, content_type)
        response = self._client.send(
            "POST", "/v1/jobs",
            params={"purpose": purpose or self._client.purpose or ""},
            content=lambda: _jobs.read_chunks(path),
            headers=_jobs.upload_headers(kind, idempotency_key),
        )  # fmt: skip
        return cast(JobCreated, response.json())

    def status(self, job_id: str) -> JobStatus:
        return _jobs.as_status(self._client.send("GET", _jobs.job_path(job_id)).json())

    def wait(
        self, job_id: str, *, progress: Progress | None = None, timeout_s: float | None = None
    ) -> JobStatus:
        """Poll until the job is done (JobFailed when it failed or was cancelled), calling
        ``progress`` with each status; TimeoutError after ``timeout_s``."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        poll = _jobs.POLL_MIN_S
        while True:
            status = self.status(job_id)
            if progress is not None:
                progress(status)
            if (done := _jobs.finished(status)) is not None:
                return done
            if deadline is not None and time.monotonic() + poll > deadline:
                raise TimeoutError(f"job {job_id} not finished within {timeout_s}s")
            time.sleep(poll)
            poll = _jobs.next_poll(poll)

    def results(self, job_id: str) -> Iterator[JobLine]:
        """Each input line's result, in input order; a cut connection is resumed where
        it stopped (the lines already read are skipped)."""
        last, attempts = 0, Attempts(self._client.retry)
        while True:
            try:
                for line in self._read_results(job_id, last):
                    last = line["line"]
                    yield line
                return
            except httpx.TransportError as e:
                delay = attempts.delay_after(None)
                if delay is None:
                    raise TransportError(f"results of job {job_id}: {e!r}") from e
                time.sleep(delay)

    def _read_results(self, job_id: str, last: int) -> Iterator[JobLine]:
        path = _jobs.job_path(job_id, "/results")
        headers = {"Accept": _jobs.NDJSON}
        with self._client.open_stream("GET", path, headers=headers) as response:
            for raw in response.iter_lines():
                if (line := _jobs.result_line(raw, last)) is not None:
                    yield line

    def cancel(self, job_id: str) -> None:
        self._client.send("DELETE", _jobs.job_path(job_id))
