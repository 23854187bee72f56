"""One measured case: warm-up, the measured wrk run with CPU accounting, then an optional profile.

CPU time is read from /proc before and after the measured run for the server's
processes, PostgreSQL's (the postmaster and its backends; the dev server is
shared, so other sessions' queries count too) and Redis; wrk's from
``RUSAGE_CHILDREN``; ``other`` is the rest of the machine's busy time (anything
else running on it, which the numbers then share the cores with). Cores used =
CPU seconds / wall seconds.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from loadtest.bench import appstats, profile, wrk
from loadtest.bench.procs import Server, children, cpu_seconds

PidGroups = Callable[[], Mapping[str, list[int]]]


@dataclass(frozen=True)
class Case:
    key: str  # a..j
    title: str
    short: str
    load: wrk.Load
    items_per_request: int = 1
    profile: bool = False
    app_stats: bool = False  # read the app's /metrics around the window
    # a second load running through the warm-up and the window (its own wrk), e.g. the
    # batches beside which (j) measures verifies; its figures go under "side"
    side: wrk.Load | None = None
    side_items_per_request: int = 1


@dataclass(frozen=True)
class Timing:
    warmup_s: float
    duration_s: float
    profile_s: float
    quiet_wait_s: float = 60.0  # at most this long for the machine to calm down before a case


QUIET_CORES = 0.3  # machine-wide busy cores under which a case starts (our servers idle)
QUIET_SAMPLE_S = 2.0
SIDE_SLACK_S = 60.0  # a side load (case.side) ends by itself this long after its window


def _snapshot(groups: Mapping[str, list[int]]) -> dict[str, dict[int, float]]:
    return {name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in groups.items()}


def _cores(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], seconds: float
) -> dict[str, float]:
    used: dict[str, float] = {}
    for name, now in after.items():
        then = before.get(name, {})
        spent = sum(max(0.0, cpu - then.get(pid, 0.0)) for pid, cpu in now.items())
        used[name] = round(spent / seconds, 2) if seconds > 0 else 0.0
    return used


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_tree(pid: int) -> list[int]:
    return [pid, *children(pid)]


def machine_busy_s() -> float:
    """CPU seconds spent busy by the whole machine so far (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        jiffies = [int(x) for x in f.readline().split()[1:]]
    idle = jiffies[3] + (jiffies[4] if len(jiffies) > 4 else 0)  # idle + iowait
    return (sum(jiffies[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait_s: float) -> tuple[float, float]:
    """Wait, at most ``max_wait_s``, until the machine is nearly idle (other sessions' builds
    and tests share the cores); returns (seconds waited, busy cores at the last look)."""
    started = time.monotonic()
    while True:
        before = machine_busy_s()
        time.sleep(QUIET_SAMPLE_S)
        busy = (machine_busy_s() - before) / QUIET_SAMPLE_S
        waited = time.monotonic() - started
        if busy < QUIET_CORES or waited >= max_wait_s:
            return round(waited, 1), round(busy, 2)


def _per_request(cores: dict[str, float], rps: float) -> dict[str, float]:
    """CPU microseconds per request, by component (cores x 1e6 / requests per second)."""
    return {k: round(v * 1e6 / rps, 1) for k, v in cores.items()} if rps else {}


def _profile_run(
    server: Server, case: Case, timing: Timing, folder: Path
) -> profile.Profile | None:
    workers = server.worker_pids()
    if not workers:
        print(f"bench: ({case.key}) no worker process found to profile", file=sys.stderr)
        return None
    pid = workers[0]
    out = folder / f"profile-{case.key}.folded"
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        load = pool.submit(wrk.run, server.base_url, case.load, timing.profile_s + 2)
        time.sleep(1.0)
        profile.record(pid, timing.profile_s, out)
        load.result()
    return profile.summarize(pid, profile.read_folded(out))


def run_case(
    server: Server, case: Case, timing: Timing, groups: PidGroups, folder: Path
) -> tuple[dict[str, object], profile.Profile | None]:
    waited, busy = wait_for_quiet(timing.quiet_wait_s)
    if busy >= QUIET_CORES:
        print(f"bench: ({case.key}) the machine is busy ({busy:.2f} cores used by others)",
              file=sys.stderr)  # fmt: skip
    print(f"bench: ({case.key}) {case.title}: warm-up {timing.warmup_s:.0f}s", file=sys.stderr)
    with _side_load(server, case, timing) as side:
        run = _measured(server, case, timing, groups, {} if side is None else side.pids)
        if side is not None:
            run["side"] = side.finish()
    run["waited_for_quiet_s"], run["busy_cores_before"] = waited, busy
    found = _profile_run(server, case, timing, folder) if case.profile else None
    return run, found


class _Side:
    """``case.side``: its own wrk, running from before the warm-up until the window ends."""

    def __init__(self, proc: subprocess.Popen[str], load: wrk.Load, items: int) -> None:
        self.proc = proc
        self.load = load
        self.items = items
        self.pids = {"wrk_side": [proc.pid]}  # its CPU, apart from the measured wrk's

    def finish(self) -> dict[str, object]:
        result = wrk.stop(self.proc)
        found: dict[str, object] = {
            "path": self.load.path, "connections": self.load.connections, **result.as_dict()
        }  # fmt: skip
        if self.items > 1:
            found["items_per_request"] = self.items
            found["items_per_s"] = round(result.requests_per_s * self.items)
        return found


@contextlib.contextmanager
def _side_load(server: Server, case: Case, timing: Timing) -> Iterator[_Side | None]:
    if case.side is None:
        yield None
        return
    limit = timing.warmup_s + timing.duration_s + SIDE_SLACK_S  # it stops by itself then
    proc = wrk.start(server.base_url, case.side, limit)
    try:
        time.sleep(1.0)  # the side load is up before the warm-up starts
        yield _Side(proc, case.side, case.side_items_per_request)
    finally:
        if proc.poll() is None:  # the window failed or was interrupted
            proc.kill()
            proc.communicate()


def _measured(
    server: Server, case: Case, timing: Timing, groups: PidGroups, side: dict[str, list[int]]
) -> dict[str, object]:
    wrk.run(server.base_url, case.load, timing.warmup_s)
    samples = appstats.scrape(server.ops_url) if case.app_stats else {}
    server_pid = server.proc.pid if server.proc else 0

    def pids() -> dict[str, list[int]]:
        return {"server": process_tree(server_pid), **groups(), **side}

    before, wrk_before, busy_before = _snapshot(pids()), _children_cpu(), machine_busy_s()
    started = time.monotonic()
    result = wrk.run(server.base_url, case.load, timing.duration_s)
    wall = time.monotonic() - started
    cores = _cores(before, _snapshot(pids()), wall)  # processes started meanwhile count whole
    cores["wrk"] = round((_children_cpu() - wrk_before) / wall, 2)
    machine = (machine_busy_s() - busy_before) / wall
    cores["other"] = round(max(0.0, machine - sum(cores.values())), 2)
    run: dict[str, object] = {
        "title": case.title,
        "short": case.short,
        "connections": case.load.connections,
        **result.as_dict(),
        "cpu_cores": cores,
        "cpu_us_per_request": _per_request(cores, result.requests_per_s),
    }
    if case.items_per_request > 1:
        run["items_per_request"] = case.items_per_request
        run["items_per_s"] = round(result.requests_per_s * case.items_per_request)
    if case.app_stats:
        after = appstats.scrape(server.ops_url)
        run["cache"] = appstats.cache(samples, after)
        run["pipeline"] = appstats.pipeline(samples, after, wall)
    print(
        f"bench: ({case.key}) {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms, non-2xx {result.non_2xx}, socket errors "
        f"{result.socket_errors}, timeouts {result.timeouts}",
        file=sys.stderr,
    )
    return run
