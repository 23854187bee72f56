"""Before/after runs of an in-process benchmark against a Redis of its own, shared by
`loadtest.cachebench` and `loadtest.limitbench`.

A benchmark module runs its scenarios in a child process of itself (``--child REDIS_URL``)
that prints its figures as one JSON line. With ``--base DIR`` the parent runs that child
twice per variant, alternating (before, after, before, after), ``before`` with the packages
imported from DIR (e.g. ``git archive BASE verify cache | tar -x -C DIR``) and ``after``
with this tree's, keeps the best figures of each and prints after/before ratios: the
machine is shared, so a ratio compares only runs of one invocation. The child's
PYTHONPATH is DIR, then this tree: ``verify`` and ``cache`` come from DIR (regular
packages, never merged with this tree's), ``loadtest`` from this tree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Row = dict[str, Any]  # one variant's figures, by scenario: (CPU µs per item, items/s, ...)
HERE = str(Path(__file__).resolve().parents[1])  # this tree: the "after" variant


def arguments(doc: str, count: str, default: int) -> argparse.ArgumentParser:
    """The options of both benchmarks: ``--concurrency``, ``--<count>`` (the work of a
    round), ``--rounds``, ``--base``, and the hidden ``--child`` (the Redis URL)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(f"--{count}", type=int, default=default)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--base", help="a copy of the packages to compare with (PYTHONPATH)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser


def forwarded(args: argparse.Namespace, names: Iterable[str]) -> list[str]:
    """The options ``names`` of ``args`` as a child's command line."""
    return [part for name in names for part in (f"--{name}", str(getattr(args, name)))]


def answer(scenarios: Callable[[], Coroutine[Any, Any, Row]]) -> None:
    """The child's side: run ``scenarios`` on uvloop (as `verify serve`; asyncio without
    it) and print its figures as the JSON line the parent reads."""
    try:
        import uvloop
    except ImportError:
        print(json.dumps(asyncio.run(scenarios())))
        return
    print(json.dumps(uvloop.run(scenarios())))


async def best_round(
    run_round: Callable[[], Awaitable[None]],
    per_round: int,
    items: int,
    rounds: int,
    other: Callable[[], float] = lambda: 0.0,
) -> tuple[float, float, float]:
    """(best CPU µs per item, items/s of that round, growth of ``other`` (seconds, e.g. a
    server's CPU) per item in µs in that round), over ``rounds`` rounds of ``items //
    per_round`` calls of ``run_round``."""
    best_cpu, best_rate, best_other = float("inf"), 0.0, 0.0
    for _ in range(rounds):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        other0 = other()
        for _ in range(items // per_round):
            await run_round()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        spent = other() - other0
        done = items // per_round * per_round
        if cpu / done < best_cpu:
            best_cpu, best_rate, best_other = cpu / done, done / wall, spent / done
    return best_cpu * 1e6, best_rate, best_other * 1e6


@contextmanager
def scratch_redis(prefix: str) -> Iterator[tuple[Any, Path]]:
    """A Redis server of its own in a temporary folder: (the server, the folder)."""
    from verify.devservers import Redis, free_port

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        redis = Redis(Path(tmp) / "redis", free_port())
        redis.start()
        try:
            yield redis, Path(tmp)
        finally:
            redis.stop()


def child(
    script: str, packages: str, redis_url: str, argv: list[str], env: Mapping[str, str] = {}
) -> Row:
    """Run ``script --child redis_url *argv`` with ``packages`` first on PYTHONPATH."""
    path = packages if packages == HERE else os.pathsep.join((packages, HERE))
    full_env = {**os.environ, "PYTHONPATH": path, **env}
    cmd = [sys.executable, str(Path(script).resolve()), "--child", redis_url, *argv]
    done = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=600)
    if done.returncode:  # the child's traceback, not only its exit status
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result: Row = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def alternate(
    base: str | None, run: Callable[[str], Row], keep: Callable[[Row | None, Row], Row]
) -> dict[str, Row]:
    """``run(packages)`` of each variant ("before" from ``base``, if given, and "after"),
    twice each alternating when there are two; ``keep(best so far, new)`` picks."""
    rows: dict[str, Row] = {}
    variants = ([("before", base)] if base else []) + [("after", HERE)]
    for _turn in range(2 if base else 1):
        for name, packages in variants:
            rows[name] = keep(rows.get(name), run(packages))
    return rows


def best_each(keys: Iterable[str]) -> Callable[[Row | None, Row], Row]:
    """Keep the best (least CPU) figures of each scenario of ``keys``, from any run."""

    def keep(best: Row | None, got: Row) -> Row:
        if best is None:
            return got
        for key in keys:
            if got[key][0] < best[key][0]:
                best[key] = got[key]
        return best

    return keep


def best_by(key: str) -> Callable[[Row | None, Row], Row]:
    """Keep the whole run whose scenario ``key`` took the least CPU."""

    def keep(best: Row | None, got: Row) -> Row:
        return got if best is None or got[key][0] < best[key][0] else best

    return keep


def header(names: Iterable[str], width: int) -> str:
    return f"{'':{width}}" + "".join(f"{n:>22}" for n in names)


def cells(rows: dict[str, Row], key: str, digits: int) -> str:
    """Each variant's CPU µs per item and items/s of scenario ``key``, in columns."""
    return "".join(f"{r[key][0]:>10.{digits}f} ({r[key][1]:>8.0f})" for r in rows.values())


def ratio(key: str, before: Row, after: Row, nets: tuple[float, float], more: str = "") -> str:
    """The after/before line of scenario ``key``: CPU, CPU net of the floor ``nets`` (before,
    after), throughput; ``more`` ends the parenthesis, if given."""
    (net_b, net_a), b, a = nets, before[key], after[key]
    return (
        f"  {key:8} CPU {a[0] / b[0]:.2f}x (net of empty {net_a / net_b:.2f}x{more}),"
        f" throughput {a[1] / b[1]:.2f}x"
    )
