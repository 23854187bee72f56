"""/metrics: Prometheus naming rules, and totals that add up across worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp
from prometheus_client import multiprocess

from tests.cases import REGISTER
from tests.conftest import Servers
from tests.e2e.conftest import Client
from tests.ops.procs import ServeProcess, free_port, pause, start_serve
from tests.ops.scrape import scrape, total

VALID_ID = REGISTER[0].record.id_number
REQUESTS = 120
POOL_MAX = 8  # Settings.db_pool_max default
TIMEOUT = aiohttp.ClientTimeout(total=10)


async def test_metrics_pass_promtool_check(
    client: Client, auth: dict[str, str], promtool: str
) -> None:
    await client.post("/v1/verify", json={"id_number": VALID_ID, "gender": "male"}, headers=auth)
    await client.post("/v1/verify", json={"id_number": "1"}, headers=auth)
    text = await (await client.get("/metrics")).text()
    assert "verify_http_requests_total" in text
    _promtool_check_metrics(promtool, text)


def _promtool_check_metrics(promtool: str, text: str) -> None:
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    assert not done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr


async def _verify_many(base_url: str, token: str, n: int) -> None:
    """n requests, each on a connection of its own (SO_REUSEPORT spreads connections)."""
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(force_close=True, limit=8)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:

        async def one() -> None:
            body = {"id_number": VALID_ID, "full_name": "x"}
            async with session.post(f"{base_url}/v1/verify", json=body, headers=headers) as r:
                assert r.status == 200, await r.text()

        await asyncio.gather(*(one() for _ in range(n)))


def _wait_for_workers(serve: ServeProcess, workers: int) -> None:
    """Scrape until every worker reports its pool (each samples it as it starts)."""
    deadline = time.monotonic() + 30
    while True:
        text = scrape(serve.base_url)
        if total(text, "verify_db_pool_connections", state="max") == workers * POOL_MAX:
            return
        assert time.monotonic() < deadline, text
        pause(serve.proc, serve.log_path)


def _requests_per_process(metrics_dir: Path) -> list[float]:
    per_pid: dict[str, list[str]] = {}
    for f in metrics_dir.glob("counter_*.db"):
        per_pid.setdefault(f.stem.rsplit("_", 1)[1], []).append(str(f))
    counts = []
    for files in per_pid.values():
        merged = multiprocess.MultiProcessCollector.merge(files)  # type: ignore[no-untyped-call]
        counts.append(
            sum(
                s.value
                for m in merged
                for s in m.samples
                if s.name == "verify_http_requests_total" and s.labels["route"] == "/v1/verify"
            )
        )
    return counts


async def test_two_workers_report_totals_that_add_up(
    servers: Servers, loaded_db: str, token: str, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"

    def serve() -> contextlib.AbstractContextManager[ServeProcess]:
        return start_serve(
            servers,
            loaded_db,
            workers=2,
            port=free_port(),
            metrics_dir=metrics_dir,
            log_path=tmp_path / "serve.log",
        )

    with serve() as earlier:  # a run that leaves its files behind
        await _verify_many(earlier.base_url, token, 7)
    assert list(metrics_dir.glob("counter_*.db"))
    assert not list(metrics_dir.glob("gauge_live*.db")), "dead workers' live gauges remain"

    with serve() as running:
        _wait_for_workers(running, 2)
        await _verify_many(running.base_url, token, REQUESTS)
        text = scrape(running.base_url)
        per_process = _requests_per_process(metrics_dir)

    assert total(text, "verify_http_requests_total", route="/v1/verify") == REQUESTS
    assert total(text, "verify_http_request_duration_seconds_count", route="/v1/verify") == REQUESTS
    assert total(text, "verify_verdicts_total") == REQUESTS
    assert total(text, "verify_agency_requests_total", agency="test-agency") == REQUESTS
    assert total(text, "verify_audit_rows_total") == REQUESTS
    # both workers answered some, and the per-process files add up to the total
    assert len(per_process) == 2 and all(c > 0 for c in per_process), per_process
    assert sum(per_process) == REQUESTS, per_process
    assert total(text, "verify_http_in_flight_requests") == 1  # the scrape itself
    assert total(text, "verify_db_up") == 1
    if (path := shutil.which("promtool")) is not None:
        _promtool_check_metrics(path, text)
