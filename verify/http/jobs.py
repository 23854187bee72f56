"""Bulk jobs over HTTP: POST /v1/jobs, GET /v1/jobs/{id}, GET .../results, DELETE /v1/jobs/{id}.

The upload is read a network read at a time and written to Postgres a chunk at a time
(memory bounded whatever its size); 202 is answered once all of it is committed.
Results of a finished job (done, cancelled or failed) are every line done. While the job
is queued or running, GET .../results streams the lines done so far with no line
missing among them (the chunks before the first one not done yet), and says so:
``X-Results-Partial: true`` (``false`` once the job has ended).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from aiohttp import StreamReader, web

from verify.domain.claims import parse_purpose
from verify.domain.errors import ValidationError
from verify.errors import ServiceError
from verify.http.appkeys import SETTINGS
from verify.http.job_format import job_json, results_csv
from verify.http.jobs_keys import JOB_QUEUE, JOB_STORE
from verify.http.ops import json_response
from verify.http.routes import principal
from verify.service.job_input import Chunk, splitter_for
from verify.service.jobs import (
    ACTIVE,
    NewJob,
    cancel_job,
    get_job,
    submit_job,
)

IDLE_TIMEOUT_S = 30.0  # no upload data for this long fails the upload (nothing is kept)
READ_BYTES = 256 * 1024
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces
_FORMATS = {"application/x-ndjson": "ndjson", "text/csv": "csv"}


def _format(request: web.Request) -> str:
    fmt = _FORMATS.get(request.content_type)
    if fmt is None:
        raise web.HTTPUnsupportedMediaType(
            text="send application/x-ndjson (claims) or text/csv (the verify load columns)"
        )
    return fmt


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise ValidationError(
            "invalid_idempotency_key", "1 to 128 printable ASCII characters", "Idempotency-Key"
        )
    return key


async def _chunks(content: StreamReader, fmt: str, chunk_lines: int) -> AsyncIterator[Chunk]:
    splitter = splitter_for(fmt, chunk_lines)
    while True:
        try:
            data = await asyncio.wait_for(content.read(READ_BYTES), IDLE_TIMEOUT_S)
        except TimeoutError:
            raise ValidationError("timeout", f"no upload data for {IDLE_TIMEOUT_S:.0f}s") from None
        for chunk in splitter.finish() if not data else splitter.feed(data):
            yield chunk
        if not data:
            return


def _urls(request: web.Request, job_id: str) -> dict[str, str]:
    status_url = str(request.app.router["job"].url_for(job_id=job_id))
    return {"status_url": status_url, "results_url": f"{status_url}/results"}


async def post_job(request: web.Request) -> web.Response:
    who = principal(request, "verify")
    raw_purpose = request.query.get("purpose")
    if raw_purpose is None:
        raise ValidationError("missing_field", "give the purpose: ?purpose=P", "purpose")
    purpose = parse_purpose(raw_purpose)
    who.check_purpose(purpose)  # every line is verified, and audited, under this purpose
    new = NewJob(
        agency_id=who.agency_id,
        key_id=who.key_id,
        purpose=purpose,
        format=_format(request),
        idempotency_key=_idempotency_key(request),
    )
    settings, app = request.app[SETTINGS], request.app
    job, created = await submit_job(
        new,
        _chunks(request.content, new.format, settings.job_chunk_lines),
        store=app[JOB_STORE],
        queue=app[JOB_QUEUE],
        max_lines=settings.job_max_lines,
    )
    urls = _urls(request, job.id)
    response = json_response({**job_json(job), **urls}, status=202 if created else 200)
    response.headers["Location"] = urls["status_url"]
    return response


async def get_job_status(request: web.Request) -> web.Response:
    who = principal(request, "verify")
    job = await get_job(who.agency_id, request.match_info["job_id"], request.app[JOB_STORE])
    return json_response({**job_json(job), **_urls(request, job.id)})


async def delete_job(request: web.Request) -> web.Response:
    who = principal(request, "verify")
    job = await cancel_job(who.agency_id, request.match_info["job_id"], request.app[JOB_STORE])
    return json_response({**job_json(job), **_urls(request, job.id)})


async def get_job_results(request: web.Request) -> web.StreamResponse:
    who = principal(request, "verify")
    store = request.app[JOB_STORE]
    job = await get_job(who.agency_id, request.match_info["job_id"], store)
    partial = job.state in ACTIVE
    as_csv = "text/csv" in request.headers.get("Accept", "")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8" if as_csv else "application/x-ndjson",
            "X-Job-State": job.state.value,
            "X-Results-Partial": "true" if partial else "false",
        }
    )
    await response.prepare(request)
    first = True
    try:
        async for blob in store.results(job.id, prefix=partial):
            await response.write(results_csv(blob, header=first) if as_csv else blob)
            first = False
    except ServiceError:
        # the status line is sent: a cut connection (no last chunk) is the only honest end
        # left, so a reader never takes a truncated body for all the results
        response.force_close()
        if request.transport is not None:
            request.transport.abort()
        return response
    if as_csv and first:
        await response.write(results_csv(b"", header=True))
    await response.write_eof()
    return response


post_job.long_running = True  # type: ignore[attr-defined]
get_job_results.long_running = True  # type: ignore[attr-defined]


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/jobs", post_job)
    app.router.add_get("/v1/jobs/{job_id}", get_job_status, name="job")
    app.router.add_delete("/v1/jobs/{job_id}", delete_job)
    app.router.add_get("/v1/jobs/{job_id}/results", get_job_results)
