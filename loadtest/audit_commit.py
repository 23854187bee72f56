"""Rows per group commit, Postgres CPU per row and the wait for a commit, for writer
configurations side by side (rounds alternating), under arrivals spread like a server's.

``loadtest.audit_write`` starts every sender in the same tick, so each group is all of
them whatever the writer does. Here each of S senders, as a request of a server worker:
thinks (an exponential pause, mean ``--think-ms``), holds the event loop for ``--work-us``
of CPU (the request's own work), records one row and awaits its commit. So rows arrive
tick after tick, and what a commit gathers depends on the writer: the ``--configs`` are
``SLOTS:SPILL[:COPY]`` (PgAuditWriter's max_in_flight, spill_rows and copy_rows, the
smallest commit that goes by COPY, by default ``audit.COPY_ROWS``; ``4:1`` is the writer
before 6855f87: any waiting row started an idle slot; ``4:64:1000000000`` against
``4:64:1`` weighs the INSERT against COPY at the group sizes a server makes).

Needs the dev stack (``eval "$(verify dev up --quiet)"; verify migrate; verify
maintenance``); writes to its audit_log through VERIFY_DATABASE_URL:

    .venv/bin/python -m loadtest.audit_commit [--configs 4:1,4:64,2:1] [--senders 30]

Prints per config: rows/s, rows per commit, this process's CPU per row (the work included),
the Postgres backends' CPU per row (from /proc: 10 ms ticks), the median of each round's
p50 and p99 wait for a commit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from dataclasses import dataclass, field

import asyncpg
import uvloop

from loadtest.audit_write import _backend_cpu, _entries, _pool
from verify.adapters.audit import COPY_ROWS, PgAuditWriter


@dataclass
class Found:
    rows: int = 0
    commits: int = 0
    cpu_s: float = 0.0
    pg_cpu_s: float = 0.0
    p50s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)


def _burn(us: float) -> None:
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass


async def _round(
    writer_config: str, pool: asyncpg.Pool, pids: list[int], args: argparse.Namespace,
    found: Found,
) -> None:  # fmt: skip
    slots, spill, *copy = (int(x) for x in writer_config.split(":"))
    commits: list[int] = []
    writer = PgAuditWriter(
        pool, timeout=10.0, max_in_flight=slots, spill_rows=spill,
        on_commit=lambda n, _s: commits.append(n), copy_rows=copy[0] if copy else COPY_ROWS,
    )  # fmt: skip
    waits: list[float] = []
    stop = time.perf_counter() + args.seconds
    rows = _entries(args.senders)

    async def send(i: int) -> None:
        rng = random.Random(i)
        while time.perf_counter() < stop:
            await asyncio.sleep(rng.expovariate(1 / args.think_ms) / 1e3)
            _burn(args.work_us)
            start = time.perf_counter()
            await writer.record([rows[i]])
            waits.append(time.perf_counter() - start)

    pg0, cpu0 = _backend_cpu(pids), time.process_time()
    await asyncio.gather(*(send(i) for i in range(args.senders)))
    found.cpu_s += time.process_time() - cpu0
    found.pg_cpu_s += _backend_cpu(pids) - pg0
    await writer.aclose()
    found.rows += len(waits)
    found.commits += len(commits)
    waits.sort()
    found.p50s.append(waits[len(waits) // 2])
    found.p99s.append(waits[int(len(waits) * 0.99)])


async def main(args: argparse.Namespace) -> None:
    pool, pids = await _pool(os.environ["VERIFY_DATABASE_URL"])
    found = {config: Found() for config in args.configs}
    for _ in range(args.rounds):
        for config, f in found.items():
            await _round(config, pool, pids, args, f)
    print(f"{'slots:spill':>16} {'rows/s':>7} {'rows/commit':>11} {'us/row':>7}"
          f" {'pg us/row':>9} {'p50 ms':>7} {'p99 ms':>7}")  # fmt: skip
    for config, f in found.items():
        print(
            f"{config:>16} {f.rows / (args.seconds * args.rounds):7.0f}"
            f" {f.rows / max(f.commits, 1):11.1f} {f.cpu_s / f.rows * 1e6:7.1f}"
            f" {f.pg_cpu_s / f.rows * 1e6:9.1f} {statistics.median(f.p50s) * 1e3:7.2f}"
            f" {statistics.median(f.p99s) * 1e3:7.2f}"
        )
    await pool.close()


def _arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtest.audit_commit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--configs", type=lambda t: t.split(","), default=["4:1", "4:64", "2:1"])
    p.add_argument("--senders", type=int, default=30, help="requests in flight")
    p.add_argument("--work-us", type=float, default=150.0, help="CPU per request")
    p.add_argument("--think-ms", type=float, default=1.0, help="mean pause between requests")
    p.add_argument("--seconds", type=float, default=3.0, help="per config and round")
    p.add_argument("--rounds", type=int, default=3)
    return p.parse_args()


if __name__ == "__main__":
    uvloop.run(main(_arguments()))
