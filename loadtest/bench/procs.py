"""Servers under test: started in their own session, ready when every worker listens, stopped.

A server counts as ready when ``workers`` sockets listen on its port (one per
SO_REUSEPORT worker: while only one listens, wrk's connections would all stick
to it) and ``/healthz`` answers 200, within a deadline. Stopping sends SIGTERM
to the server's own process group, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 15.0
_TCP_LISTEN = "0A"


class ServerError(RuntimeError):
    pass


def listening_sockets(port: int) -> int:
    """Sockets in LISTEN state on ``port`` (IPv4 and IPv6), read from /proc/net."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f, None)
            for line in f:
                cols = line.split()
                local, state = cols[1], cols[3]
                if state == _TCP_LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(c) for c in f.read().split())
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Server:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    port: int
    workers: int
    log_path: Path
    cwd: Path
    ops_port: int = 0  # the operations port (/metrics), when the server has one
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops_url(self) -> str:
        return f"http://127.0.0.1:{self.ops_port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(self.argv),
                env=dict(self.env),
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.proc.returncode}{self._tail()}")
            ready = listening_sockets(self.port) >= self.workers
            if ready and _healthy(f"{self.base_url}/healthz"):
                return
            time.sleep(0.1)
        raise ServerError(f"{self.name} not ready within {timeout_s:.0f}s{self._tail()}")

    def worker_pids(self) -> list[int]:
        """The worker processes (multiprocessing spawn children, or a fleet's servers), not
        the supervisor."""
        assert self.proc is not None
        found = children(self.proc.pid)
        spawned = [c for c in found if "spawn_main" in cmdline(c)]
        return spawned or [c for c in found if "resource_tracker" not in cmdline(c)]

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the session we created: this server only
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_GRACE_S)

    def _tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n  " + "\n  ".join(text) if text else ""


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    """Start ``server``, wait until it is ready, and always stop it on the way out."""
    try:
        server.start()
        server.wait_ready()
        yield server
    finally:
        server.stop()
