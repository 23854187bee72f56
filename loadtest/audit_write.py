"""CPU of the audit group commit per row, this process's and Postgres's, for writers side by
side in the same run, rounds alternating: ``--variants``, the first the baseline, are the
writer and sealing at ``--before`` (loaded from git; by default main before the COPY path),
or PgAuditWriter's options now (``insert``: every commit by the INSERT of canonical rows,
``copy``: every commit by binary COPY, ``now``: the defaults). Absolute figures vary with
the machine's load; the ratio much less. All write to the same database, or the writer
before to ``--before-url`` (a database migrated up to the schema before).

Needs a migrated database (the dev stack: ``eval "$(verify dev up --quiet)"; verify
migrate; verify maintenance``); writes to its audit_log through VERIFY_DATABASE_URL:

    .venv/bin/python -m loadtest.audit_write [--rounds 3] [--cases 12x1,1x1000]
        [--variants insert,copy | before,now]

A case SxE: S concurrent requests each record E entries and await their commit, again
and again, as the server's handlers do (a group commit gathers what one tick recorded; the
E entries of a request share its id, key, time and latency, as a batch's items do): 12x1
is about what (c) of `make bench` commits (~10-25 rows a commit), 1x1000 is (e). It
prints the writer process's CPU per row and per commit, and the Postgres backends' CPU per
row when they run on this machine (read from /proc, 10 ms ticks: coarse).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import subprocess
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import uvloop

from verify.adapters.audit import PgAuditWriter
from verify.adapters.pg import NoResetConnection
from verify.service.audit import AuditEntry

BEFORE = "147c3a4"  # main before the COPY path (2897407: before the canonical INSERT)


def _source_at(rev: str, path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{rev}:{path}"],
        cwd=Path(__file__).resolve().parents[1], check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def _module_at(rev: str, name: str) -> types.ModuleType:
    path = name.replace(".", "/") + ".py"
    module = types.ModuleType(f"{name}_at_{rev}")
    sys.modules[module.__name__] = module  # a dataclass looks its module up there
    exec(compile(_source_at(rev, path), f"{rev}:{path}", "exec"), module.__dict__)
    return module


def _writer_at(rev: str) -> type[PgAuditWriter]:
    """PgAuditWriter as ``verify/adapters/audit.py`` was at ``rev``, with the chain (its
    sealing) of ``verify/adapters/audit_chain.py`` at ``rev`` (both read from git)."""
    chain = "verify.adapters.audit_chain"
    now = sys.modules[chain]
    sys.modules[chain] = _module_at(rev, chain)  # what the old writer imports its names from
    try:
        module = _module_at(rev, "verify.adapters.audit")
    finally:
        sys.modules[chain] = now
    writer: type[PgAuditWriter] = module.PgAuditWriter
    return writer


OnCommit = Callable[[int, float], None]


@dataclass
class Figures:
    rows: int = 0
    commits: int = 0
    cpu_s: float = 0.0
    pg_cpu_s: float = 0.0


def _entries(size: int, one_request: bool = False) -> list[AuditEntry]:
    """``size`` entries of distinct requests, or of one request (a batch's items: the same
    request id, key, time and latency, as verify.service.verification.audit_entries makes)."""
    now = dt.datetime.now(dt.UTC)
    request_id, key_id = secrets.token_hex(16), secrets.token_hex(8)
    return [
        AuditEntry(
            at=now,
            agency_id=3,
            request_id=request_id if one_request else secrets.token_hex(16),
            kind="batch_item" if one_request else "verify",
            purpose="airport_checkin",
            subject=secrets.token_bytes(32),
            verdict="match",
            latency_ms=1.7,
            key_id=key_id if one_request else secrets.token_hex(8),
        )
        for _ in range(size)
    ]


def _backend_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")  # Postgres runs elsewhere
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def _round(
    make: Callable[[asyncpg.Pool, OnCommit], PgAuditWriter], pool: asyncpg.Pool, pids: list[int],
    case: tuple[int, int], rows: int, figures: Figures,
) -> None:  # fmt: skip
    commits: list[int] = []
    writer = make(pool, lambda n, _s: commits.append(n))
    senders, group = case
    per_sender = max(1, rows // (senders * group))
    batches = [_entries(group, one_request=True) for _ in range(senders)]

    async def send(entries: list[AuditEntry]) -> None:
        for _ in range(per_sender):
            await writer.record(entries)

    pg0, cpu0 = _backend_cpu(pids), time.process_time()
    await asyncio.gather(*(send(b) for b in batches))
    figures.cpu_s += time.process_time() - cpu0
    figures.pg_cpu_s += _backend_cpu(pids) - pg0
    figures.rows += senders * per_sender * group
    figures.commits += len(commits)
    await writer.aclose()


async def _pool(url: str) -> tuple[asyncpg.Pool, list[int]]:
    """8 connections and their backends' pids (for their CPU)."""
    name = f"loadtest.audit_write.{secrets.token_hex(4)}"
    pool = await asyncpg.create_pool(
        url, min_size=8, max_size=8, connection_class=NoResetConnection,
        server_settings={"application_name": name},
    )  # fmt: skip
    assert pool is not None
    pids = [r[0] for r in await pool.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1", name
    )]  # fmt: skip
    return pool, pids


# the writer's variants to compare (PgAuditWriter's options): how a commit's rows travel
VARIANTS: dict[str, dict[str, object]] = {
    "insert": {"copy_rows": 1 << 62},
    "copy": {"copy_rows": 0},
    "now": {},  # the defaults
}


def _maker(
    name: str, old: type[PgAuditWriter] | None
) -> Callable[[asyncpg.Pool, OnCommit], PgAuditWriter]:
    if name == "before":
        assert old is not None
        return lambda p, c: old(p, timeout=10.0, on_commit=c)
    options = VARIANTS[name]
    return lambda p, c: PgAuditWriter(p, timeout=10.0, on_commit=c, **options)  # type: ignore[arg-type]


async def main(args: argparse.Namespace) -> None:
    url = os.environ["VERIFY_DATABASE_URL"]
    pool, pids = await _pool(url)
    # the before writer on a database of the schema before (--before-url), or the same one
    old_pool, old_pids = await _pool(args.before_url) if args.before_url else (pool, pids)
    old_writer = _writer_at(args.before) if "before" in args.variants else None
    writers = {name: _maker(name, old_writer) for name in args.variants}
    pools = {name: (old_pool, old_pids) if name == "before" else (pool, pids) for name in writers}
    print(f"{'case':>8} {'writer':14} {'rows/commit':>11} {'us/row':>8} {'us/commit':>10}"
          f" {'pg us/row':>10}")  # fmt: skip
    for case in args.cases:
        label = f"{case[0]}x{case[1]}"
        found = {name: Figures() for name in writers}
        for _ in range(args.rounds):
            for name, make in writers.items():
                await _round(make, *pools[name], case, args.rows, found[name])
        for name, f in found.items():
            print(
                f"{label:>8} {name:14} {f.rows / f.commits:11.1f} {f.cpu_s / f.rows * 1e6:8.2f}"
                f" {f.cpu_s / f.commits * 1e6:10.1f} {f.pg_cpu_s / f.rows * 1e6:10.1f}"
            )
        base_name, base = next(iter(found.items()))
        for name, f in list(found.items())[1:]:
            ratio = (f.cpu_s / f.rows) / (base.cpu_s / base.rows)
            pg = (f.pg_cpu_s / f.rows) / (base.pg_cpu_s / base.rows)
            print(f"{label:>8} {name} / {base_name}, CPU per row: writer {ratio:.2f},"
                  f" Postgres {pg:.2f}", flush=True)  # fmt: skip
    await pool.close()
    if old_pool is not pool:
        await old_pool.close()


def _cases(text: str) -> list[tuple[int, int]]:
    found = []
    for case in text.split(","):
        senders, entries = case.split("x")
        found.append((int(senders), int(entries)))
    return found


def _arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtest.audit_write", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--before", default=BEFORE, help="the git revision of the writer before")
    p.add_argument("--before-url", help="a database at the schema before, for the writer before"
                   " (default: VERIFY_DATABASE_URL, one schema for both)")  # fmt: skip
    p.add_argument("--rows", type=int, default=20_000, help="rows per writer and round")
    p.add_argument("--cases", type=_cases, default=_cases("12x1,64x1,1x1000"))
    p.add_argument("--variants", type=lambda t: t.split(","), default=["before", "now"],
                   help=f"writers, the first the baseline: before (git), {', '.join(VARIANTS)}"
                   " (PgAuditWriter's options)")  # fmt: skip
    return p.parse_args()


if __name__ == "__main__":
    uvloop.run(main(_arguments()))
