"""The service and Prometheus as subprocesses: started, awaited by retry, stopped by pid."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import UNLIMITED_ATTEMPTS, Servers
from verify.devservers import free_port

__all__ = ["ServeProcess", "free_port", "pause", "start_serve", "stop", "wait_ready"]

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
POLL_S = 0.1  # the pause between two readiness probes: Popen.wait, which also sees a crash


@dataclass(frozen=True)
class ServeProcess:
    base_url: str
    ops_url: str  # the operations port: /metrics, /readyz
    metrics_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def pause(proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """Wait POLL_S between two probes, failing at once if the process has exited."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        code = proc.wait(timeout=POLL_S)
        raise RuntimeError(f"the process exited with {code}:\n{_tail(log_path)}")


def wait_ready(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    """Retry ``url`` until it answers 200, the process exits, or the deadline passes."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(url):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready in {START_TIMEOUT_S}s:\n{_tail(log_path)}")
        pause(proc, log_path)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the parent stops its workers), then SIGKILL to the session it leads."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group started with start_new_session
        proc.wait(timeout=STOP_TIMEOUT_S)


def serve_env(
    servers: Servers, db_url: str, port: int, ops_port: int, metrics_dir: Path
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VERIFY_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(
        VERIFY_DATABASE_URL=db_url,
        VERIFY_REDIS_URL=servers.redis_url,
        VERIFY_HMAC_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        VERIFY_CACHE_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        VERIFY_REDIS_KEY_PREFIX=f"t{uuid.uuid4().hex[:12]}",
        VERIFY_PORT=str(port),
        VERIFY_METRICS_PORT=str(ops_port),
        VERIFY_SUBJECT_ATTEMPTS_PER_DAY=str(UNLIMITED_ATTEMPTS),  # load on a few people
        VERIFY_MAX_CONCURRENT_PER_KEY="100000",  # one key is the whole load here
        VERIFY_LOG_LEVEL="WARNING",
        VERIFY_DRAIN_SECONDS="0",  # stop at once; tests/e2e/test_drain.py sets its own
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    return env


@contextlib.contextmanager
def start_serve(
    servers: Servers, db_url: str, *, workers: int, port: int, metrics_dir: Path, log_path: Path
) -> Iterator[ServeProcess]:
    cmd = [sys.executable, "-m", "verify", "serve", "--workers", str(workers)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    ops_port = free_port()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            env=serve_env(servers, db_url, port, ops_port, metrics_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    ops_url = f"http://127.0.0.1:{ops_port}"
    try:
        wait_ready(proc, f"{base_url}/healthz", log_path)
        wait_ready(proc, f"{ops_url}/readyz", log_path)
        yield ServeProcess(base_url, ops_url, metrics_dir, log_path, proc)
    finally:
        stop(proc)
