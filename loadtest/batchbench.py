"""A batch item's whole in-process CPU, by stage: `python -m loadtest.batchbench`.

What :mod:`loadtest.pathbench` leaves out of a batch of (e) is here too: the probing limit's
charges (``charge_attempts`` through the real ``RedisAttemptLimiter`` and ``ChargeBatcher``,
down to the EVALSHA bytes ``gcra_redis`` would write; the socket round trip is a stub that
answers "all allowed"), and the batch as one piece (``verify_audited`` with a register that
builds its records from RECORDS_SQL's rows, a no-op audit, then the answers and their JSON).
No server, database or Redis: CPU only, in this thread's CPU time, best of ``--rounds``, with
the garbage collector set as ``verify serve`` sets it (verify/gc_tuning.py).

Every round runs on another batch of other people (as in (e), where the items are random
people of a 1M register: the memos of names, dates, attempt keys and audit subjects miss),
drawn by the seed's own generator. A calibration loop gives ``cal`` columns that compare
across machines and hours. Prints a table; ``--json`` writes the figures, and a fingerprint
of the response bodies, which a change of the path must leave the same.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from pathlib import Path

import orjson

from loadtest.pathbench import TODAY, Row, batch, calibrate, record_from_row, register_rows
from verify import gc_tuning
from verify.adapters.attempts import RedisAttemptLimiter
from verify.adapters.gcra_batch import Charge, ChargeBatcher
from verify.adapters.gcra_redis import evalsha_command, script_runs
from verify.domain.model import CitizenRecord, Claim
from verify.http.routes import answer_all_items, parse_item, parse_items
from verify.service.attempts import charge_attempts
from verify.service.audit import AuditEntry, RequestContext, subject_of
from verify.service.verification import VerifyDeps, verify_audited

HMAC_KEY = b"k" * 32
PER_DAY = 50  # the default probing limit: no batch of distinct people reaches it


class _Breaker:
    def allow(self) -> bool:
        return True

    def success(self) -> None: ...

    def failure(self) -> None: ...

    def abandon(self) -> None: ...


async def _send(charges: Sequence[Charge]) -> Sequence[int]:
    """What ``StandaloneSender`` does in this process before and after its round trip:
    the command's bytes; the reply of an all-allowed batch is no refusal."""
    evalsha_command([charge.key for charge in charges], script_runs(charges))
    return []


class _Register:
    """Records built from the rows on every call, as ``PgRegister`` does."""

    def __init__(self, rows: dict[str, Row]) -> None:
        self._rows = rows

    async def get_many(self, ids: Collection[str]) -> dict[str, CitizenRecord]:
        found = [record_from_row(self._rows[i]) for i in ids if i in self._rows]
        return {r.id_number: r for r in found}

    async def resolve_former(self, former_ids: Collection[str]) -> dict[str, str]:
        return {}


class _NoAudit:
    async def record(self, entries: Sequence[AuditEntry]) -> None:
        return None


class Batch:
    def __init__(self, rows: list[Row], body: bytes) -> None:
        self.body = body
        self.rows = {f"{row[0]:012d}": row for row in rows}
        items = orjson.loads(body)["items"]
        self.parsed = [parse_item(item, ("index", i)) for i, item in enumerate(items)]
        self.claims = [p for p in self.parsed if isinstance(p, Claim)]
        self.subjects = [c.id_number for c in self.claims]


def make_batches(seed: int, count: int, items: int) -> list[Batch]:
    """``count`` batches of ``items`` claims each, every batch on people of its own."""
    rows = register_rows(seed, count * items, 1)
    out = []
    for b in range(count):
        mine = rows[b * items : (b + 1) * items]
        records = [record_from_row(row) for row in mine]
        out.append(Batch(mine, orjson.dumps({"items": batch(records, items, b)})))
    return out


def _deps(register: _Register, attempts: RedisAttemptLimiter) -> VerifyDeps:
    now = dt.datetime.now(dt.UTC)
    return VerifyDeps(
        register=register, audit=_NoAudit(), hmac_key=HMAC_KEY, today=lambda: TODAY,
        now=lambda: now, attempts=attempts, attempts_per_day=PER_DAY,
    )  # fmt: skip


Stage = Callable[[Batch], Awaitable[object]]
STAGES = ("parse", "attempts", "lookup", "whole batch")


def stages(attempts: RedisAttemptLimiter) -> dict[str, Stage]:
    ctx = RequestContext(1, "bench-request", "batch_item", dt.datetime.now(dt.UTC), "key")

    async def parse(b: Batch) -> object:
        return parse_items(orjson.loads(b.body)["items"], ())

    async def charge(b: Batch) -> object:
        return await charge_attempts(1, b.subjects, attempts, PER_DAY)

    async def lookup(b: Batch) -> object:
        return await _Register(b.rows).get_many(set(b.subjects))

    async def whole(b: Batch) -> object:
        return await run_batch(b, ctx, _deps(_Register(b.rows), attempts))

    return dict(zip(STAGES, (parse, charge, lookup, whole), strict=True))


async def run_batch(b: Batch, ctx: RequestContext, deps: VerifyDeps) -> bytes:
    """The batch handler's path between reading the body and writing the answer."""
    parsed = parse_items(orjson.loads(b.body)["items"], ())
    claims = [p for p in parsed if isinstance(p, Claim)]
    outcomes = await verify_audited(claims, ctx, deps)
    return orjson.dumps({"request_id": "r", "results": answer_all_items(parsed, outcomes)})


async def best_us(stage: Stage, batches: list[Batch], rounds: int) -> float:
    best = float("inf")
    for b in batches[-rounds:]:
        subject_of.cache_clear()  # random people of a large register: the memo misses
        start = time.thread_time_ns()
        await stage(b)
        best = min(best, time.thread_time_ns() - start)
    return best / 1e3


async def measure(args: argparse.Namespace) -> dict[str, object]:
    warm = 3
    batches = make_batches(args.seed, warm + args.rounds, args.items)
    batcher = ChargeBatcher(_send, breaker=_Breaker(), deadline_s=10.0)
    gc_tuning.settle()  # the collector as `verify serve` sets it: inputs frozen, threshold raised
    cal = min(_cpu_us(calibrate) for _ in range(args.rounds))
    out: dict[str, object] = {"calibration_us": cal, "items": args.items, "stages": {}}
    print(f"calibration loop {cal:,.0f} µs (best of {args.rounds}); 1 cal = that loop")
    print(f"{'stage':<12} {'µs/item':>9} {'cal/item x1000':>15}")
    for name in STAGES:
        # a fresh key memo per stage: every stage misses alike
        stage = stages(_limiter(batcher))[name]
        for b in batches[:warm]:
            await stage(b)
        per_item = await best_us(stage, batches, args.rounds) / args.items
        out["stages"][name] = per_item  # type: ignore[index]
        print(f"{name:<12} {per_item:9.2f} {1000 * per_item / cal:15.3f}")
    ctx = RequestContext(1, "r", "batch_item", dt.datetime(2026, 6, 1, tzinfo=dt.UTC), "key")
    bodies = [await run_batch(b, ctx, _deps(_Register(b.rows), _limiter(batcher))) for b in batches]
    out["answers"] = hashlib.sha256(b"".join(bodies)).hexdigest()[:16]
    print(f"responses fingerprint {out['answers']} ({len(bodies)} batches)")
    await batcher.aclose()
    return out


def _limiter(batcher: ChargeBatcher) -> RedisAttemptLimiter:
    return RedisAttemptLimiter(batcher, prefix="bench", hmac_key=HMAC_KEY)


def _cpu_us(fn: Callable[[], object]) -> float:
    start = time.thread_time_ns()
    fn()
    return (time.thread_time_ns() - start) / 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    out = asyncio.run(measure(args))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
