"""The register cache's cost per lookup, in process, against a Redis of its own:
`python -m loadtest.cachebench [--base DIR]`.

What a verify asks of ``cache/`` ("lookup" in `make bench`'s stage table), on the project's
own code: ``register.get_many({id})`` for ``--concurrency`` requests at a time on one event
loop (uvloop, as `verify serve`), each a different person of a hot set, with the cache's
metrics on in prometheus multiprocess mode (as `verify serve --workers 2` runs them) and the
change-feed listener attached (on an in-memory change source that never changes). Scenarios:

- ``empty``: the same requests doing nothing (the floor: coroutines and gather);
- ``hit``: every lookup an L1 hit (bench case (c) in steady state);
- ``miss``: L1 emptied before every round of ``--concurrency`` lookups, every one a Redis hit
  (the L1-miss path: the tick's batch, one MGET, AES-GCM open, record decode, L1 fill);
- ``cold``: L1 emptied and Redis flushed before every round: every lookup misses both tiers,
  reads the source and fills Redis (sealed, version-guarded writes), the fills waited for;
- ``direct``: the caches off (``DirectRegister``, bench case (d)) on an in-memory record
  source: the per-tick batcher's own cost, without Postgres.

Each figure is this process's CPU time per lookup, redis-py and the event loop included
(Redis's own CPU is another process's), the best of ``--rounds``; and lookups/s of wall
time. ``--base DIR`` runs the same scenarios a second time with ``cache`` and ``verify``
imported from DIR (e.g. ``git archive BASE verify cache | tar -x -C DIR``), alternating,
and prints the ratios: the machine is shared, so compare within one invocation only.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from loadtest import abrun

SCENARIOS = ("empty", "hit", "miss", "cold", "direct")


def _records(n: int) -> dict[str, Any]:
    from verify.domain.model import (
        Card,
        CardState,
        CitizenRecord,
        Gender,
        LifeStatus,
        PartialDate,
    )

    rand = random.Random(1)
    out: dict[str, Any] = {}
    for i in range(n):
        id12 = f"0{rand.randrange(1, 96):02d}{rand.randrange(10**8, 10**9)}"
        issue = dt.date(2021, 1, 1) + dt.timedelta(days=rand.randrange(1500))
        out[id12] = CitizenRecord(
            id_number=id12,
            full_name=f"Nguyễn Văn An {i}",
            birth=PartialDate(dt.date(1960, 1, 1) + dt.timedelta(days=rand.randrange(20000))),
            gender=Gender.MALE if i % 2 else Gender.FEMALE,
            status=LifeStatus.LIVING,
            cards=(Card(issue, issue + dt.timedelta(days=3650), CardState.ACTIVE),),
            version=1,
        )
    return out


class _Source:
    """The record source, in memory: what Postgres would answer, without Postgres."""

    def __init__(self, records: dict[str, Any]) -> None:
        self._records = records

    async def fetch_records(self, ids: list[str]) -> dict[str, Any]:
        get = self._records.get
        return {i: r for i in ids if (r := get(i)) is not None}

    async def resolve_former(self, former_ids: list[str]) -> dict[str, str]:
        return {}


class _Feed:
    """A change log that never changes: the listener syncs, and the caches are trusted."""

    backend_pid = 1

    def is_closed(self) -> bool:
        return False

    async def start(self) -> tuple[int, int]:
        return 0, 1

    async def read(self, after: int, *, page: int, max_rows: int) -> Any:
        from verify.domain.changes import ChangeBatch

        return ChangeBatch(xmin=2, xmax=2, upto=after, changes=[])

    def close(self) -> None:
        pass


class _Changes:
    async def connect(self, wake: Callable[[], None]) -> _Feed:
        return _Feed()


async def _scenarios(redis_url: str, args: argparse.Namespace) -> dict[str, Any]:
    # imported here: --base swaps the package these come from
    from prometheus_client import CollectorRegistry

    from cache.breaker import Breaker
    from cache.codec import Codec
    from cache.direct import DirectRegister
    from cache.keyspace import KeySpace
    from cache.listener import ChangeListener
    from cache.metrics import CacheMetrics
    from cache.redis_client import create_client
    from cache.redis_tier import RedisTier
    from cache.register import CachedRegister
    from cache.settings import CacheSettings

    key = secrets.token_bytes(32)
    settings = CacheSettings(redis_url=redis_url, hmac_key=key, cache_key=key)
    records = _records(args.hot)
    ids = list(records)
    source = _Source(records)
    metrics = CacheMetrics(CollectorRegistry())
    redis = RedisTier(
        create_client(settings),
        breaker=Breaker(),
        timeout_s=settings.redis_timeout_s,
        metrics=metrics,
    )
    register = CachedRegister(
        source, keyspace=KeySpace("cb", key), codec=Codec(key), redis=redis, metrics=metrics
    )
    await register.listen(ChangeListener(_Changes(), register.invalidator), 2.0)
    direct = DirectRegister(source)
    c = args.concurrency
    cursor = 0

    def batch() -> list[str]:
        nonlocal cursor
        start, cursor = cursor, (cursor + c) % (len(ids) - c)
        return ids[start : start + c]

    async def nothing(_: object) -> dict[str, Any]:
        return {}

    # each lookup awaited inside a coroutine of its own, as a request's handler awaits it
    # (a gather of bare futures would skip the task every request has)
    def round_of(lookup: Callable[[set[str]], Awaitable[dict[str, Any]]]) -> Callable[[], Any]:
        async def one(id12: str) -> None:
            await lookup({id12})

        async def run() -> None:
            await asyncio.gather(*(one(i) for i in batch()))

        return run

    empty, hit, direct_lookup = (
        round_of(nothing),
        round_of(register.get_many),
        round_of(direct.get_many),
    )

    async def miss() -> None:
        register.records.l1.clear()
        await hit()

    async def cold() -> None:
        assert register.redis is not None
        await register.redis.client.flushdb()
        register.records.l1.clear()
        await hit()
        await register.redis.drain()

    # warm: every record in Redis and in L1
    for start in range(0, len(ids), 500):
        await register.get_many(ids[start : start + 500])
    assert register.redis is not None
    await register.redis.drain()
    found = await register.get_many(ids[:c])
    assert len(found) == c, "the warm-up did not cache the hot set"
    out: dict[str, Any] = {}
    n, r = args.lookups, args.rounds
    runs = {"empty": empty, "hit": hit, "miss": miss, "cold": cold, "direct": direct_lookup}
    for name in SCENARIOS:
        items = n // 4 if name in ("miss", "cold") else n
        out[name] = (await abrun.best_round(runs[name], c, items, r))[:2]
    assert len(await register.get_many(ids[:c])) == c
    await register.aclose()
    await direct.aclose()
    return out


def _table(rows: dict[str, dict[str, Any]]) -> str:
    names = list(rows)
    lines = [abrun.header(names, 24)]
    for key in SCENARIOS:
        lines.append(f"{key + ' µs/lookup (/s)':24}" + abrun.cells(rows, key, 2))
    if len(names) == 2:
        before, after = rows[names[0]], rows[names[1]]
        lines.append("after/before, CPU per lookup (lower is better) and lookups/s:")
        for key in SCENARIOS[1:]:
            net_b = before[key][0] - before["empty"][0]
            net_a = after[key][0] - after["empty"][0]
            detail = f": {net_b:.2f} -> {net_a:.2f} µs"
            lines.append(abrun.ratio(key, before, after, (net_b, net_a), detail))
    return "\n".join(lines)


def main() -> None:
    parser = abrun.arguments(__doc__, "lookups", 64_000)
    parser.add_argument("--hot", type=int, default=1_000, help="people in the hot set")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.child:
        abrun.answer(lambda: _scenarios(args.child, args))
        return
    argv = abrun.forwarded(args, ("concurrency", "lookups", "rounds", "hot"))
    with abrun.scratch_redis("cachebench-") as (redis, tmp):
        metrics_dir = tmp / "metrics"

        def child(packages: str) -> dict[str, Any]:
            metrics_dir.mkdir(exist_ok=True)
            for stale in metrics_dir.iterdir():
                stale.unlink()
            env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
            return abrun.child(__file__, packages, redis.url, argv, env)

        rows = abrun.alternate(args.base, child, abrun.best_each(SCENARIOS))
    print(_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
