"""Real `verify worker` processes: SIGKILLed mid-job, a job still holds exactly one result
and one audit row per line; SIGTERM drains (the current chunks finish, the worker exits)."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import asyncpg
import orjson
import pytest
from aiohttp import web

from tests.cases import CASES, TODAY
from tests.e2e.conftest import AiohttpClient, Client
from tests.e2e.jobs_support import audit_rows
from tests.e2e.workerproc import running_worker
from tests.support.wait import eventually
from verify.adapters.audit_verify import verify_audit
from verify.bootstrap import create_app
from verify.settings import Settings

LINES = 20_000
WORKER_ENV = {"VERIFY_JOB_STALE": "2", "VERIFY_JOB_SLICE": "5", "VERIFY_JOB_DRAIN": "10"}
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
async def jobs(settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient) -> Client:
    small_chunks = dataclasses.replace(settings, job_chunk_lines=100)
    app: web.Application = create_app(small_chunks, today=lambda: TODAY)
    return await aiohttp_client(app)


async def _submit(client: Client, auth: dict[str, str]) -> str:
    bodies = [CASES[n % len(CASES)].body for n in range(LINES)]
    upload = b"".join(orjson.dumps(b) + b"\n" for b in bodies)
    headers = {**auth, "Content-Type": "application/x-ndjson"}
    response = await client.post(
        "/v1/jobs?purpose=cleaning", data=io.BytesIO(upload), headers=headers
    )
    assert response.status == 202
    job_id: str = (await response.json())["job_id"]
    return job_id


async def _lines_done(db_url: str, job_id: str) -> tuple[int, str]:
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        row = await conn.fetchrow("SELECT lines_done, state FROM jobs WHERE id = $1", job_id)
    finally:
        await conn.close()
    assert row is not None
    return row["lines_done"], row["state"]


async def _wait_lines(db_url: str, job_id: str, at_least: int, within: float) -> None:
    async def reached() -> bool:
        return (await _lines_done(db_url, job_id))[0] >= at_least

    await eventually(reached, within=within, what=f"{at_least} lines done")


def _dashboard_job_metrics() -> set[str]:
    """Metrics queried by the dashboard's "Bulk jobs" row (its test does not scrape a worker)."""
    path = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "citizen-verify.json"
    exprs = [
        target["expr"]
        for panel in json.loads(path.read_text())["panels"]
        for target in panel.get("targets", [])
        if "citizen-verify-worker" in target["expr"]
    ]
    names = {m for e in exprs for m in re.findall(r"\b(verify_job[a-z_]*)\{", e)}
    assert len(names) >= 4
    return names


async def _check_exactly_once(
    client: Client, auth: dict[str, str], db_url: str, job_id: str
) -> None:
    status = await (await client.get(f"/v1/jobs/{job_id}", headers=auth)).json()
    assert status["state"] == "done" and status["lines_done"] == LINES
    assert sum(status["counts"].values()) == LINES and status["counts"]["invalid"] == 0
    response = await client.get(f"/v1/jobs/{job_id}/results", headers=auth)
    lines = [orjson.loads(line)["line"] for line in (await response.read()).splitlines()]
    assert lines == list(range(1, LINES + 1))
    rows = await audit_rows(db_url, job_id)
    assert len(rows) == LINES  # none lost, none twice
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        report = await verify_audit(conn)  # each chunk is a batch of its loop's hash chain
    finally:
        await conn.close()
    assert report.intact, report.breaks
    assert report.rows == LINES


async def test_sigkilled_worker_loses_no_line_and_answers_none_twice(
    jobs: Client, auth: dict[str, str], settings: Settings, loaded_db: str
) -> None:
    job_id = await _submit(jobs, auth)
    async with running_worker(settings, WORKER_ENV) as first:
        await _wait_lines(loaded_db, job_id, 2_000, within=60)
        await first.kill()
    done, state = await _lines_done(loaded_db, job_id)
    assert state == "running" and done < LINES, "killed after the job ended: nothing tested"
    async with running_worker(settings, WORKER_ENV) as second:
        await _wait_lines(loaded_db, job_id, LINES, within=120)
        exposed = await second.metrics()
        assert "verify_job_requeued_total 1.0" in exposed
        for name in _dashboard_job_metrics():
            assert re.search(rf"^{name}(\{{|\s)", exposed, re.M), name
    await _check_exactly_once(jobs, auth, loaded_db, job_id)


async def test_sigterm_drains_at_a_chunk_boundary(
    jobs: Client, auth: dict[str, str], settings: Settings, loaded_db: str
) -> None:
    job_id = await _submit(jobs, auth)
    async with running_worker(settings, WORKER_ENV) as first:
        await _wait_lines(loaded_db, job_id, 2_000, within=60)
        assert await first.terminate(within=15) == 0
    done, state = await _lines_done(loaded_db, job_id)
    assert done % 100 == 0  # whole chunks only
    if state != "done":
        async with running_worker(settings, WORKER_ENV):
            await _wait_lines(loaded_db, job_id, LINES, within=120)
    await _check_exactly_once(jobs, auth, loaded_db, job_id)
