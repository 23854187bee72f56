"""Running wrk with ``bodies.lua`` and reading the totals its ``done()`` prints."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("bodies.lua")
MARKER = "BENCH_JSON "
REQUEST_TIMEOUT_S = 10  # wrk's own per-request timeout (its default, 2 s, would hide slow tails)
SLACK_S = 60  # beyond the run's duration: loading the bodies, connecting, reporting


class WrkError(RuntimeError):
    pass


@dataclass(frozen=True)
class Load:
    """What wrk sends: bodies from ``bodies`` to ``path`` with ``connections`` connections."""

    bodies: Path
    path: str
    connections: int
    threads: int = 1
    key: str | None = None


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    non_2xx: int
    socket_errors: int
    timeouts: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    return found


def parse(output: str) -> WrkResult:
    line = next((ln for ln in output.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise WrkError(f"wrk printed no totals:\n{output[-2000:]}")
    raw = json.loads(line[len(MARKER) :])
    seconds = raw["duration_us"] / 1e6
    return WrkResult(
        requests=raw["requests"],
        duration_s=round(seconds, 3),
        requests_per_s=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        mean_ms=round(raw["mean_us"] / 1000, 3),
        non_2xx=raw["non_2xx"],
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"],
        timeouts=raw["timeouts"],
    )


def run(base_url: str, load: Load, seconds: float) -> WrkResult:
    """One wrk run of ``seconds``; bounded by its duration plus a slack."""
    cmd, env = _command(base_url, load, seconds)
    try:
        done = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=seconds + SLACK_S, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise WrkError(f"wrk did not finish within {seconds + SLACK_S:.0f}s") from e
    if done.returncode != 0:
        raise WrkError(f"wrk failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return parse(done.stdout)


def start(base_url: str, load: Load, seconds_at_most: float) -> subprocess.Popen[str]:
    """A wrk run in the background (a load beside the measured one), ended by ``stop``, or by
    itself after ``seconds_at_most``."""
    cmd, env = _command(base_url, load, seconds_at_most)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen[str]) -> WrkResult:
    """End a ``start``ed run now (wrk stops on SIGINT and prints its totals) and read them."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=SLACK_S)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        proc.communicate()
        raise WrkError(f"wrk did not stop within {SLACK_S:.0f}s of SIGINT") from e
    if proc.returncode != 0:
        raise WrkError(f"wrk failed ({proc.returncode}):\n{err[-2000:]}")
    return parse(out)


def _command(base_url: str, load: Load, seconds: float) -> tuple[list[str], dict[str, str]]:
    cmd = [
        wrk_binary(),
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={REQUEST_TIMEOUT_S}s",
        "--latency",
        "-s",
        str(SCRIPT),
        base_url + load.path,
    ]
    env = {
        **os.environ,
        "BENCH_BODIES": str(load.bodies),
        "BENCH_PATH": load.path,
        "BENCH_KEY": load.key or "",
    }
    return cmd, env
