"""`verify serve` as a real subprocess on a free port, for tests that kill or scrape it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from tests.conftest import b64
from tests.support.wait import eventually
from verify.devservers import free_port
from verify.settings import Settings


def env_for(
    settings: Settings, port: int, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    env.update(
        VERIFY_DATABASE_URL=settings.database_url,
        VERIFY_ADMIN_DATABASE_URL=settings.owner_database_url,
        VERIFY_REDIS_URL=settings.redis_url,
        VERIFY_HMAC_KEY=b64(settings.hmac_key),
        VERIFY_CACHE_KEY=b64(settings.cache_key),
        VERIFY_REDIS_KEY_PREFIX=settings.redis_key_prefix,
        VERIFY_PORT=str(port),
        VERIFY_LOG_LEVEL="WARNING",
        **(extra or {}),
    )
    return env


@dataclass
class ServerProcess:
    proc: asyncio.subprocess.Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), timeout=10)


async def _wait_ready(url: str, proc: asyncio.subprocess.Process, deadline_s: float = 30) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:

        async def ready() -> bool:
            if proc.returncode is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                async with session.get(f"{url}/readyz") as response:
                    return response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False

        await eventually(ready, within=deadline_s, what="server ready")


@asynccontextmanager
async def running_server(
    settings: Settings, *, workers: int = 1, extra_env: Mapping[str, str] | None = None
) -> AsyncIterator[ServerProcess]:
    port = free_port()
    cmd = [sys.executable, "-m", "verify", "serve", "--workers", str(workers)]
    proc = await asyncio.create_subprocess_exec(
        *cmd, env=env_for(settings, port, extra_env), start_new_session=True,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    server = ServerProcess(proc, port)
    try:
        await _wait_ready(server.url, proc)
        yield server
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=15)
            except TimeoutError:
                await server.kill()
