"""`make bench`: requests/s and p50/p99 of ten cases in one run, on loopback, with wrk.

(a) hello world (aiohttp + uvloop + orjson), (b) a naive one-SELECT-per-request
server, (c) POST /v1/verify with every lookup a cache hit, (d) POST /v1/verify
with the caches off on random IDs of a 10M register, (e) POST /v1/verify/batch
with 1,000 items per request, (f) = (c) with a no-op audit, (g) = (c) served by 2
single-process instances (metrics in process, as one process per container runs)
instead of `--workers 2` (prometheus multiprocess files), (h) and (i) the floors of
(c) and (d): servers doing only what the contract requires of every verify
(loadtest/bench/floor.py), (j) = (d) while other clients post batches to the same
server. Every server runs 2 processes sharing its port (SO_REUSEPORT) and starts on an
empty audit log. py-spy profiles one worker during
(c), (d), (e), (h) and (i); its shares of the worker's samples times the CPU per request
give the per-stage table (µs per request by stage: parse, auth, lookup, evaluate,
audit, serialise, metrics, log, HTTP). Writes loadtest/results/bench.json, bench.png
and profile-{c,d,e,h,i}.txt; prints a table.

Everything it starts it stops, also on Ctrl-C, SIGTERM or its overall deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from loadtest.bench import profile, register, report
from loadtest.bench.measure import Timing
from loadtest.bench.scenarios import Bench, Options, Outcome
from loadtest.bench.wrk import wrk_binary

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "loadtest" / "results"


ALL_CASES = frozenset("abcdefghij")
PARTIAL = Path(tempfile.gettempdir()) / "verify-bench"


class Interrupted(Exception):
    pass


def _cases(text: str) -> frozenset[str]:
    found = frozenset(text.strip().lower())
    if not found or not found <= ALL_CASES:
        raise argparse.ArgumentTypeError(f"cases are letters among {''.join(sorted(ALL_CASES))}")
    return found


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m loadtest.bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--count", type=int, default=10_000_000, help="citizens in the register")
    p.add_argument("--seed", type=int, default=1, help="seed of `verify seed`")
    p.add_argument("--database", default="verify_bench", help="the register's database")
    p.add_argument("--workers", type=int, default=2, help="processes of every server")
    p.add_argument("--duration", type=float, default=15.0, help="seconds measured per server")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per server")
    p.add_argument("--profile-seconds", type=float, default=10.0, help="py-spy window; 0: none")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--batch-connections", type=int, default=16)
    p.add_argument("--random-ids", type=int, default=200_000, help="IDs exported for (b), (d)")
    p.add_argument("--hot-ids", type=int, default=1_000, help="the hot set of (a), (c)")
    p.add_argument("--batch-items", type=int, default=1_000)
    p.add_argument("--quiet-wait", type=float, default=60.0, help="seconds a case waits at most")
    p.add_argument("--deadline", type=float, default=1500.0, help="seconds for the whole run")
    p.add_argument(
        "--cases", default=ALL_CASES, type=_cases,
        help="the servers to measure, e.g. 'c' or 'cd' (default: all; a subset writes to "
        f"{PARTIAL} unless --out is given, so the committed figures stay whole)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="folder of the outputs")
    p.add_argument(
        "--register", type=register.parse_size, default=None, metavar="SIZE",
        help="only verify with caches off on a register of SIZE (100M) in its own database "
        "(verify_bench_100m), seeded once; writes register-100m.json",
    )  # fmt: skip
    args = p.parse_args(argv)
    if args.out is None:
        args.out = RESULTS if args.cases == ALL_CASES else PARTIAL
    if args.register is not None:
        args.count = args.register
        if args.database == "verify_bench":
            args.database = f"verify_bench_{register.label(args.count)}"
    return args


def _options(args: argparse.Namespace) -> Options:
    return Options(
        count=args.count, seed=args.seed, database=args.database, workers=args.workers,
        connections=args.connections, batch_connections=args.batch_connections,
        random_ids=args.random_ids, hot_ids=args.hot_ids, batch_items=args.batch_items,
        timing=Timing(args.warmup, args.duration, args.profile_seconds, args.quiet_wait),
        cases=args.cases,
    )  # fmt: skip


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(f"stopped by {signal.Signals(signum).name}")


@contextlib.contextmanager
def _signals(deadline_s: float) -> Iterator[None]:
    """Ctrl-C, SIGTERM and the overall deadline (SIGALRM) unwind: every `finally` runs.

    SIGINT gets a handler of its own too: a shell starting the bench in the background
    leaves SIGINT ignored, and Python then installs no KeyboardInterrupt for it.
    """
    caught = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)
    old = {s: signal.signal(s, _raise) for s in caught}
    signal.alarm(max(1, int(deadline_s)))
    try:
        yield
    finally:
        signal.alarm(0)
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _command(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (done.stdout or done.stderr).strip()


def _git_commit() -> str:
    sha = _command(["git", "rev-parse", "--short", "HEAD"]) or "unknown"
    dirty = _command(["git", "status", "--porcelain", "--", "verify", "cache"])
    return sha + (" + uncommitted changes in verify/ or cache/" if dirty else "")


def _stages(outcome: Outcome) -> dict[str, dict[str, float]]:
    """Per profiled case: app CPU microseconds per request, by stage of the request path."""
    found: dict[str, dict[str, float]] = {}
    for key, found_profile in outcome.profiles.items():
        per_request = outcome.servers[key].get("cpu_us_per_request", {})
        us = per_request.get("server") if isinstance(per_request, dict) else None
        if isinstance(us, int | float):
            found[key] = profile.stage_us(found_profile, float(us))
    return found


def _result(args: argparse.Namespace, outcome: Outcome) -> dict[str, object]:
    found = report.ratios(outcome.servers)
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_generator": _command([wrk_binary(), "--version"]).split("Copyright")[0].strip()
            + " (-t1)",
        },
        "config": {
            "workers": args.workers,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "connections": args.connections,
            "batch_connections": args.batch_connections,
            "register_citizens": args.count,
            "register_database": args.database,
            "register_seeded_this_run": outcome.seeded,
            "random_ids": args.random_ids,
            "hot_ids": args.hot_ids,
            "batch_items": args.batch_items,
            "profile_s": args.profile_seconds,
            "quiet_wait_s": args.quiet_wait,
        },
        "servers": outcome.servers,
        "ratios": {k: r.as_dict() for k, r in found.items()},
        "stage_us_per_request": _stages(outcome),
        "profiles": {k: p.as_dict() for k, p in outcome.profiles.items()},
        "notes": outcome.notes,
    }


def _write(out: Path, args: argparse.Namespace, outcome: Outcome) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result = _result(args, outcome)
    report.write_json(out / "bench.json", result)
    found = report.ratios(outcome.servers)
    title = (
        f"make bench, {result['generated_at']}, commit {result['git_commit']}: "
        f"{args.workers} processes per server, wrk -t1 -c{args.connections} "
        f"(batch -c{args.batch_connections}), {args.duration:.0f} s each"
    )
    stages = _stages(outcome)
    report.chart(outcome.servers, found, out / "bench.png", title, stages)
    for key, found_profile in outcome.profiles.items():
        title = f"({key}) {outcome.servers[key]['title']}"
        (out / f"profile-{key}.txt").write_text(profile.as_text(title, found_profile) + "\n")
    print(report.table(outcome.servers, found))
    print(report.stage_table(outcome.servers, stages))
    for key, found_profile in outcome.profiles.items():
        top = ", ".join(f"{c.function} {c.pct}%" for c in found_profile.python_self[:5])
        print(f"profile ({key}): {top}")
    for note in outcome.notes:
        print(f"note: {note}")
    print(f"written: {out / 'bench.json'}, {out / 'bench.png'}, profile-*.txt")


def _write_register(out: Path, args: argparse.Namespace, outcome: Outcome) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "config": {
            "workers": args.workers, "warmup_s": args.warmup, "duration_s": args.duration,
            "connections": args.connections, "random_ids": args.random_ids,
            "register_seeded_this_run": outcome.seeded,
        },
        "register": outcome.register,
        "servers": outcome.servers,
        "notes": outcome.notes,
    }  # fmt: skip
    path = out / f"register-{register.label(args.count)}.json"
    report.write_json(path, result)
    run = outcome.servers.get("d", {})
    print(
        f"register {args.count:,} ({outcome.register.get('database_size_gib')} GiB): verify, "
        f"caches off, random IDs: {run.get('requests_per_s')} req/s, p99 {run.get('p99_ms')} ms, "
        f"{outcome.register.get('miss_share')} of page reads missed shared buffers"
    )
    for note in outcome.notes:
        print(f"note: {note}")
    print(f"written: {path}")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    verify = Path(sys.executable).parent / "verify"
    try:
        with _signals(args.deadline), tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
            bench = Bench(_options(args), verify, Path(tmp))
            outcome = bench.run_all() if args.register is None else bench.run_register()
    except (KeyboardInterrupt, Interrupted) as e:
        print(f"bench: interrupted ({e or 'Ctrl-C'}); everything it started is stopped",
              file=sys.stderr)  # fmt: skip
        return 130
    except (RuntimeError, OSError) as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return 1
    if args.register is None:
        _write(args.out, args, outcome)
    else:
        _write_register(args.out, args, outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
