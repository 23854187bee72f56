"""A real Prometheus server for a test: generated config, tmp storage, loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

JOB = "citizen-verify"
START_TIMEOUT_S = 30.0
POLL_S = 0.2
TIMEOUT = aiohttp.ClientTimeout(total=5)


@dataclass
class Prometheus:
    url: str
    proc: asyncio.subprocess.Process
    session: aiohttp.ClientSession

    async def pause(self) -> None:
        """Wait POLL_S between two probes; fail at once if Prometheus has exited."""
        with contextlib.suppress(TimeoutError):
            code = await asyncio.wait_for(self.proc.wait(), POLL_S)
            raise RuntimeError(f"prometheus exited with {code}")

    async def api(self, path: str, **params: str) -> object:
        async with self.session.get(f"{self.url}{path}", params=params) as response:
            body = await response.json()
        assert isinstance(body, dict) and body.get("status") == "success", body
        return body["data"]

    async def has_data(self, expr: str) -> bool:
        """Does an instant query return at least one sample that is a number (not NaN)?"""
        data = await self.api("/api/v1/query", query=expr)
        assert isinstance(data, dict)
        result = data["result"]
        if data["resultType"] == "scalar":
            return not math.isnan(float(result[1]))
        return any(not math.isnan(float(r["value"][1])) for r in result)


def write_config(workdir: Path, target: str, rule_files: list[Path]) -> Path:
    rules = "".join(f"  - {p}\n" for p in rule_files)
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n{rules}"
        f"scrape_configs:\n  - job_name: {JOB}\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    return config


@contextlib.asynccontextmanager
async def run_prometheus(
    binary: str, workdir: Path, *, port: int, target: str, rule_files: list[Path]
) -> AsyncIterator[Prometheus]:
    config = write_config(workdir, target, rule_files)
    proc = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            prom = Prometheus(f"http://127.0.0.1:{port}", proc, session)
            await _wait_ready(prom)
            yield prom
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _wait_ready(prom: Prometheus) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with prom.session.get(f"{prom.url}/-/ready") as response:
                if response.status == 200:
                    return
        assert time.monotonic() < deadline, "prometheus not ready"
        await prom.pause()
