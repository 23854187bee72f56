"""`verify worker` as a real subprocess, for tests that kill it or send it SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from tests.e2e.serverproc import env_for
from tests.support.wait import eventually
from verify.devservers import free_port
from verify.settings import Settings


@dataclass
class WorkerProcess:
    proc: asyncio.subprocess.Process
    metrics_port: int

    async def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), timeout=10)

    async def terminate(self, within: float) -> int:
        os.killpg(self.proc.pid, signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout=within)

    async def metrics(self) -> str:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            url = f"http://127.0.0.1:{self.metrics_port}/metrics"
            async with session.get(url) as response:
                return await response.text()


async def _healthy(worker: WorkerProcess) -> bool:
    if worker.proc.returncode is not None:
        raise RuntimeError(f"worker exited with {worker.proc.returncode}")
    url = f"http://127.0.0.1:{worker.metrics_port}/healthz"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session,
            session.get(url) as response,
        ):
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


@asynccontextmanager
async def running_worker(
    settings: Settings, extra_env: Mapping[str, str] | None = None
) -> AsyncIterator[WorkerProcess]:
    port = free_port()
    env = env_for(
        settings, free_port(), free_port(),
        {"VERIFY_WORKER_METRICS_PORT": str(port), **(extra_env or {})},
    )  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "verify", "worker", env=env, start_new_session=True,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    worker = WorkerProcess(proc, port)
    try:
        await eventually(lambda: _healthy(worker), within=30, what="worker up")
        yield worker
    finally:
        if proc.returncode is None:
            await worker.kill()
