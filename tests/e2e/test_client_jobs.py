"""citizen-verify-client's jobs calls and `verify-client check --job` against the real jobs
API (and, for the command, a real `verify worker` process)."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from citizen_verify_client import Client, JobStatus, RetryPolicy
from citizen_verify_client.cli import main as cli_main

from tests.cases import TODAY
from tests.e2e.conftest import AiohttpClient
from tests.e2e.conftest import Client as TestClient
from tests.e2e.jobs_support import audit_rows, run_to_end
from tests.e2e.test_client import CLAIMS, VN_HEADER, _strip, _vn_rows, base_url
from tests.e2e.workerproc import running_worker
from verify.bootstrap import create_app
from verify.settings import Settings

FAST = RetryPolicy(attempts=10, backoff_s=0.05, total_s=30)


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, job_chunk_lines=7)  # many chunks from few lines


@pytest.fixture
async def jobs_app(
    job_settings: Settings, loaded_db: str, aiohttp_client: AiohttpClient
) -> TestClient:
    app: web.Application = create_app(job_settings, today=lambda: TODAY)
    return await aiohttp_client(app)


async def test_submit_wait_and_read_results(
    jobs_app: TestClient, token: str, job_settings: Settings, loaded_db: str, tmp_path: Path
) -> None:
    claims = [c.body for c in CLAIMS] * 3
    upload = tmp_path / "claims.ndjson"
    upload.write_text("".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8")
    url = base_url(jobs_app)

    def submit_twice() -> tuple[Any, Any]:
        with Client(url, token, purpose="kyc_refresh", retry=FAST) as api:
            first = api.jobs.submit(upload, idempotency_key="client-test-1")
            again = api.jobs.submit(upload, idempotency_key="client-test-1")
            return first, again

    job, again = await asyncio.to_thread(submit_twice)
    assert again["job_id"] == job["job_id"]  # a retried upload is the same job
    await run_to_end(job_settings, job["job_id"], lambda: TODAY)
    seen: list[JobStatus] = []

    def wait_and_read() -> list[Any]:
        with Client(url, token, retry=FAST) as api:
            api.jobs.wait(job["job_id"], progress=seen.append, timeout_s=30)
            return list(api.jobs.results(job["job_id"]))

    lines = await asyncio.to_thread(wait_and_read)
    assert seen[-1]["state"] == "done" and seen[-1]["lines_done"] == len(claims)
    assert [line["line"] for line in lines] == list(range(1, len(claims) + 1))
    for n, line in enumerate(lines):
        assert _strip({k: v for k, v in line.items() if k != "line"}) == (
            CLAIMS[n % len(CLAIMS)].expected
        ), n
    assert len(await audit_rows(loaded_db, job["job_id"])) == len(claims)


async def test_cli_job_mode_with_a_real_worker(
    client: TestClient, token: str, settings: Settings, tmp_path: Path
) -> None:
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([VN_HEADER, *_vn_rows()])
    argv = [
        "check", "--in", str(source), "--out", str(out), "--purpose", "kyc_cleanup", "--job",
        "--url", base_url(client), "--key", token, "--keep", "MaHoSo", "--no-progress",
        "--map", "id_number=SoDinhDanh,full_name=HoTen,date_of_birth=NgaySinh,gender=GioiTinh",
    ]  # fmt: skip
    async with running_worker(settings):
        assert await asyncio.to_thread(cli_main, argv) == 0
    with out.open(newline="", encoding="utf-8") as f:
        rows = {r["MaHoSo"]: r for r in csv.DictReader(f)}
    assert [rows[f"HS-{n}"]["line"] for n in range(1, 9)] == [str(n) for n in range(2, 10)]
    assert [rows[f"HS-{n}"]["verdict"] for n in (1, 2, 3, 7)] == ["match"] * 3 + ["no_match"]
    problems = [rows[f"HS-{n}"]["problem"] for n in (4, 5, 6, 8)]
    assert problems == ["invalid_date", "invalid_field", "missing_field", "invalid_id_number"]
