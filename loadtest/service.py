"""`verify serve` in the background on a free loopback port, and the API keys of the run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from verify.adapters.api_keys import create_key
from verify.service.auth import mint_key

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
# agency name -> scopes; one key each, without a rate limit
AGENCIES = {
    "airport": ("loadtest-airport", frozenset({"verify"})),
    "agency": ("loadtest-bank", frozenset({"verify"})),
    "officer": ("loadtest-police", frozenset({"lookup:basic"})),
}


async def mint_keys(database_url: str) -> dict[str, str]:
    conn = await asyncpg.connect(database_url, timeout=10)
    tokens = {}
    try:
        for role, (agency, scopes) in AGENCIES.items():
            key = mint_key()
            await create_key(conn, key, agency=agency, scopes=scopes, rate_per_s=None, burst=None)
            tokens[role] = key.token
    finally:
        await conn.close(timeout=10)
    return tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5.0) as response:
        return json.loads(response.read())


def _wait_ready(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(urllib.error.URLError, OSError):
            get_json(f"{url}/healthz")
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = proc.wait(timeout=0.2)  # the pause between probes; sees an early exit
            raise RuntimeError(f"verify serve exited with {code}")
    raise TimeoutError(f"verify serve did not answer {url}/healthz in {START_TIMEOUT_S:.0f}s")


@contextlib.contextmanager
def running_server(workers: int, log_path: Path) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "verify", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [*cmd, "--workers", str(workers)],
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the session this process leads
            proc.wait(timeout=STOP_TIMEOUT_S)
