"""Bulk jobs over HTTP: upload, progress, results in input order, idempotency, cancel, tenancy."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Sequence

import asyncpg
import orjson
import pytest
from aiohttp import web

from tests.cases import CASES, REGISTER, TODAY
from tests.e2e.conftest import AiohttpClient, Client, make_key
from tests.e2e.jobs_support import audit_rows, run_to_end
from verify.adapters.audit_verify import verify_audit
from verify.bootstrap import create_app
from verify.service.auth import SCOPES
from verify.service.job_runner import SliceEnd
from verify.settings import Settings

NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}
PATH = "/v1/jobs?purpose=kyc_refresh"


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, job_chunk_lines=7)  # many chunks from few lines


@pytest.fixture
async def jobs(job_settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient) -> Client:
    app: web.Application = create_app(job_settings, today=lambda: TODAY)
    return await aiohttp_client(app)


def _ndjson(bodies: Sequence[object]) -> bytes:
    return b"".join(orjson.dumps(b) + b"\n" for b in bodies)


async def _submit(
    client: Client, body: bytes, headers: dict[str, str], status: int = 202
) -> dict[str, object]:
    response = await client.post(PATH, data=body, headers=headers)
    assert response.status == status, await response.text()
    job: dict[str, object] = await response.json()
    assert response.headers["Location"] == job["status_url"]
    return job


async def _input_chunks(db_url: str, job_id: str) -> int:
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        n: int = await conn.fetchval("SELECT count(*) FROM job_chunks WHERE job_id = $1", job_id)
    finally:
        await conn.close()
    return n


async def _status(
    client: Client, job: dict[str, object], auth: dict[str, str]
) -> dict[str, object]:
    response = await client.get(str(job["status_url"]), headers=auth)
    assert response.status == 200
    body: dict[str, object] = await response.json()
    return body


async def test_ndjson_job_runs_to_done_and_answers_every_line_in_order(
    jobs: Client, auth: dict[str, str], job_settings: Settings, loaded_db: str
) -> None:
    bodies = [case.body for case in CASES] * 3
    upload = _ndjson(bodies[:10]) + b"\n{not json\n" + _ndjson(bodies[10:])
    job = await _submit(jobs, upload, {**auth, **NDJSON})
    assert job["state"] == "queued" and job["lines_total"] == len(bodies) + 1
    assert job["results_url"] == f"{job['status_url']}/results"
    early = await jobs.get(str(job["results_url"]), headers=auth)
    assert early.status == 200 and early.headers["X-Results-Partial"] == "true"
    assert early.headers["X-Job-State"] == "queued" and await early.read() == b""

    assert await run_to_end(job_settings, str(job["job_id"]), lambda: TODAY) is SliceEnd.EXHAUSTED
    status = await _status(jobs, job, auth)
    assert status["state"] == "done" and status["lines_done"] == len(bodies) + 1
    counts = status["counts"]
    assert isinstance(counts, dict) and counts["invalid"] == 1
    assert sum(counts.values()) == len(bodies) + 1
    assert status["started_at"] and status["finished_at"]

    response = await jobs.get(str(job["results_url"]), headers=auth)
    assert response.status == 200 and response.headers["X-Job-State"] == "done"
    assert response.headers["X-Results-Partial"] == "false"
    results = [orjson.loads(line) for line in (await response.read()).splitlines()]
    # line 11 is blank (skipped, counted), line 12 is not JSON
    numbers = [*range(1, 11), 12, *range(13, len(bodies) + 3)]
    assert [r["line"] for r in results] == numbers
    assert results[10]["code"] == "invalid_json"
    answered = [r for r in results if "verdict" in r]
    for n, result in enumerate(answered):
        case = CASES[n % len(CASES)]
        result.pop("reference"), result.pop("line")
        assert result == case.expected, (n, case.name)
    rows = await audit_rows(loaded_db, str(job["job_id"]))
    assert len(rows) == len(bodies)
    assert {(r["kind"], r["purpose"]) for r in rows} == {("job", "kyc_refresh")}
    assert await _input_chunks(loaded_db, str(job["job_id"])) == 0  # dropped once done


async def test_a_running_jobs_results_are_the_lines_done_so_far_with_none_missing(
    jobs: Client, auth: dict[str, str], job_settings: Settings, loaded_db: str
) -> None:
    """Chunk 1 is held by another worker (its row locked, as a claim holds it) while this
    one does chunks 0 and 2: the partial results are chunk 0's lines, in order, and say they
    are partial; chunk 2's lines come once chunk 1 is done."""
    bodies = [case.body for case in CASES][:20]  # chunks of 7: lines 1-7, 8-14, 15-20
    job = await _submit(jobs, _ndjson(bodies), {**auth, **NDJSON})
    job_id = str(job["job_id"])
    other_worker = await asyncpg.connect(loaded_db, timeout=10)
    try:
        async with other_worker.transaction():
            await other_worker.execute(
                "SELECT 1 FROM job_chunks WHERE job_id = $1 AND chunk_no = 1 FOR UPDATE", job_id
            )
            end = await run_to_end(job_settings, job_id, lambda: TODAY, 1, max_chunks=2)
            assert end is SliceEnd.STOPPED
    finally:
        await other_worker.close()
    status = await _status(jobs, job, auth)
    assert status["state"] == "running" and status["lines_done"] == 7 + 6
    for accept, parse in (
        ("application/x-ndjson", lambda b: [orjson.loads(x)["line"] for x in b.splitlines()]),
        ("text/csv", lambda b: [int(r[0]) for r in list(csv.reader(io.StringIO(b.decode())))[1:]]),
    ):
        partial = await jobs.get(str(job["results_url"]), headers={**auth, "Accept": accept})
        assert partial.status == 200 and partial.headers["X-Results-Partial"] == "true"
        assert partial.headers["X-Job-State"] == "running"
        assert parse(await partial.read()) == list(range(1, 8)), accept
    assert await run_to_end(job_settings, job_id, lambda: TODAY) is SliceEnd.EXHAUSTED
    final = await jobs.get(str(job["results_url"]), headers=auth)
    assert final.headers["X-Results-Partial"] == "false"
    assert [orjson.loads(x)["line"] for x in (await final.read()).splitlines()] == list(
        range(1, 21)
    )


async def test_csv_job_with_csv_results(
    jobs: Client, auth: dict[str, str], job_settings: Settings
) -> None:
    an = CASES[0].body
    upload = (
        "id_number,full_name,date_of_birth,gender,status,address\r\n"
        f'{an["id_number"]},"{an.get("full_name", "")}",2003-05-14,male,living,"a, b"\r\n'
        "123,x,2003-05-14,male,living,\r\n"
        "only,two\r\n"
        f"{an['id_number']},=cmd,,,,\r\n"
    ).encode()
    job = await _submit(jobs, upload, {**auth, **CSV})
    assert job["format"] == "csv" and job["lines_total"] == 4
    await run_to_end(job_settings, str(job["job_id"]), lambda: TODAY)
    response = await jobs.get(str(job["results_url"]), headers={**auth, "Accept": "text/csv"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["line"] for r in rows] == ["2", "3", "4", "5"]  # the header is line 1
    assert rows[0]["verdict"] == "match" and rows[0]["full_name"] == "match/exact"
    assert rows[1]["error_code"] == "invalid_id_number"
    assert rows[2]["error_code"] == "invalid_csv_row"
    assert rows[3]["verdict"] == "no_match" and "full_name" in rows[3]["reasons"]


async def test_idempotency_key_returns_the_same_job(
    jobs: Client, auth: dict[str, str], loaded_db: str
) -> None:
    headers = {**auth, **NDJSON, "Idempotency-Key": "upload-2026-11-28-a"}
    body = _ndjson([CASES[0].body] * 20)
    first = await _submit(jobs, body, headers)
    again = await _submit(jobs, body, headers, status=200)
    assert again["job_id"] == first["job_id"]
    other = await _submit(jobs, body, {**headers, "Idempotency-Key": "upload-b"})
    assert other["job_id"] != first["job_id"]
    bad = await jobs.post(PATH, data=body, headers={**headers, "Idempotency-Key": "a b"})
    assert bad.status == 400


async def test_cancel_stops_the_job_and_keeps_what_was_done(
    jobs: Client, auth: dict[str, str], job_settings: Settings
) -> None:
    job = await _submit(jobs, _ndjson([CASES[0].body] * 30), {**auth, **NDJSON})
    response = await jobs.delete(str(job["status_url"]), headers=auth)
    assert response.status == 200 and (await response.json())["state"] == "cancelled"
    assert await run_to_end(job_settings, str(job["job_id"]), lambda: TODAY) is SliceEnd.INACTIVE
    status = await _status(jobs, job, auth)
    assert status["state"] == "cancelled" and status["lines_done"] == 0
    assert await _input_chunks(job_settings.database_url, str(job["job_id"])) == 0
    results = await jobs.get(str(job["results_url"]), headers=auth)
    assert results.status == 200 and results.headers["X-Job-State"] == "cancelled"
    assert await results.read() == b""


async def test_another_agencys_key_gets_404(
    jobs: Client, auth: dict[str, str], loaded_db: str
) -> None:
    job = await _submit(jobs, _ndjson([CASES[0].body]), {**auth, **NDJSON})
    other = {"Authorization": f"Bearer {await make_key(loaded_db, SCOPES, 'other-agency')}"}
    for method, url in (
        ("GET", job["status_url"]), ("GET", job["results_url"]), ("DELETE", job["status_url"]),
    ):  # fmt: skip
        response = await jobs.request(method, str(url), headers=other)
        assert response.status == 404, (method, url)
        assert response.content_type == "application/problem+json"
    unknown = await jobs.get("/v1/jobs/not-a-uuid", headers=auth)
    assert unknown.status == 404
    assert (await _status(jobs, job, auth))["state"] == "queued"  # the owner still sees it


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "code"),
    [
        ("/v1/jobs", NDJSON, b"{}\n", 400, "missing_field"),
        ("/v1/jobs?purpose=a%20b", NDJSON, b"{}\n", 400, "invalid_field"),
        (PATH, {"Content-Type": "application/json"}, b"{}", 415, "unsupported_media_type"),
        (PATH, NDJSON, b"\n\n", 400, "empty_job"),
        (PATH, CSV, b"id_number,surname\r\n1,2\r\n", 400, "invalid_csv_header"),
        (PATH, CSV, b"full_name\r\nAn\r\n", 400, "invalid_csv_header"),
        (PATH, CSV, b"id_number\r\n\xff\xfe\r\n", 400, "invalid_encoding"),
    ],
)
async def test_bad_uploads_are_refused_and_leave_nothing(
    jobs: Client, auth: dict[str, str], loaded_db: str,
    path: str, headers: dict[str, str], body: bytes, status: int, code: str,
) -> None:  # fmt: skip
    response = await jobs.post(path, data=body, headers={**auth, **headers})
    assert response.status == status
    assert (await response.json())["code"] == code
    conn = await asyncpg.connect(loaded_db, timeout=10)
    try:
        assert await conn.fetchval("SELECT count(*) FROM jobs") == 0
        assert await conn.fetchval("SELECT count(*) FROM job_chunks") == 0
    finally:
        await conn.close()


async def test_a_key_without_the_verify_scope_is_refused(jobs: Client, loaded_db: str) -> None:
    key = await make_key(loaded_db, frozenset({"lookup:basic"}))
    response = await jobs.post(
        PATH, data=b"{}\n", headers={"Authorization": f"Bearer {key}", **NDJSON}
    )
    assert response.status == 403


async def test_each_line_is_a_probing_attempt_and_the_audit_chain_stays_intact(
    settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient, auth: dict[str, str]
) -> None:
    """A job's lines spend the agency's per-person allowance (the same Redis buckets as its
    API calls); a refused line gets its problem in place and is audited as such."""
    limited = dataclasses.replace(
        settings, job_chunk_lines=2, subject_attempts_per_day=2, redis_timeout_s=1.0
    )
    jobs = await aiohttp_client(create_app(limited, today=lambda: TODAY))
    an, other = REGISTER[0].record.id_number, REGISTER[1].record.id_number
    lines = [{"id_number": an, "gender": "male", "reference": f"r{n}"} for n in range(3)]
    job = await _submit(
        jobs, _ndjson([*lines, {"id_number": other, "gender": "female"}]), {**auth, **NDJSON}
    )
    assert await run_to_end(limited, str(job["job_id"]), lambda: TODAY) is SliceEnd.EXHAUSTED
    status = await _status(jobs, job, auth)
    assert status["state"] == "done" and status["lines_done"] == 4
    response = await jobs.get(str(job["results_url"]), headers=auth)
    results = [orjson.loads(line) for line in (await response.read()).splitlines()]
    assert ["verdict" in r for r in results] == [True, True, False, True]
    refused = results[2]
    assert refused["code"] == "too_many_attempts" and refused["status"] == 429
    assert refused["line"] == 3 and refused["reference"] == "r2" and refused["retry_after"] >= 1
    assert "fields" not in refused
    assert status["counts"] == {"match": 3, "no_match": 0, "not_found": 0, "invalid": 1}
    rows = await audit_rows(loaded_db, str(job["job_id"]))
    assert sorted(r["verdict"] for r in rows) == ["match"] * 3 + ["too_many_attempts"]
    conn = await asyncpg.connect(limited.owner_database_url, timeout=10)
    try:
        report = await verify_audit(conn)  # each chunk is one batch of its loop's chain
    finally:
        await conn.close()
    assert report.intact, report.breaks
