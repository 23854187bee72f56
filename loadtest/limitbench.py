"""The limiters' cost per request, in process, against a Redis of its own:
`python -m loadtest.limitbench [--base DIR]`.

What a verify asks of the limiters ("auth" in `make bench`'s stage table), on the project's
own code: the API key's rate limit (``verify.service.limits.charge``) and the probing limit
of its one subject (``charge_attempts``), for ``--concurrency`` requests at a time on one
event loop (uvloop, as `verify serve`), all in flight together as a busy process has them.
Scenarios:

- ``empty``: the same requests doing nothing (the floor: tasks and gather);
- ``rate``: the rate limit alone, on the limiter the composition root builds;
- ``verify``: rate limit, then the probing limit of a new person each time (what a
  verify of random people awaits: no lease pays);
- ``hot``: ``verify`` on a hot set of 1,000 people with the bench's quota (``make bench``'s
  (c): each person verified several times a second, so leases pay where the code has them);
- ``spread``: ``verify`` arriving 0-3 ticks late (net of ``idle``, the same wait doing
  nothing), so requests overlap round trips as a server's do; with its round trips
  (EVALSHA calls) per request;
- ``batch``: the probing limit of a 1,000-item batch (1,000 people), per item.

Each figure is this process's CPU time per request (or item), redis-py and the event loop
included, the best of ``--rounds``; requests/s of wall time; and the Redis server's CPU
per request (or item) in that round (from /proc, 10 ms ticks: a rough figure).
``--base DIR`` runs the same scenarios a second time with ``verify`` imported from DIR
(e.g. ``git archive BASE verify cache | tar -x -C DIR``), alternating, and prints the
ratios: the machine is shared, so compare within one invocation only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from loadtest import abrun

BURST_KEY_RATE = 10_000_000  # the bench's API key (loadtest/bench/stack.py): never reached
HOT_QUOTA = 1_000_000_000  # the bench's VERIFY_SUBJECT_ATTEMPTS_PER_DAY (loadtest/bench)


def _redis_cpu_s(pid: int | None) -> float:
    """The Redis server's CPU seconds so far (user + system; 0 when unknown)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(
    run_one: Callable[[], Awaitable[None]],
    concurrency: int,
    requests: int,
    rounds: int,
    redis_pid: int | None = None,
) -> tuple[float, float, float]:
    """(best CPU µs per request, requests/s of that round, Redis CPU µs per request of it)."""

    async def run_round() -> None:
        await asyncio.gather(*(run_one() for _ in range(concurrency)))

    def redis_cpu() -> float:
        return _redis_cpu_s(redis_pid)

    return await abrun.best_round(run_round, concurrency, requests, rounds, redis_cpu)


async def _measure_all(
    scenarios: Sequence[tuple[str, Callable[[], Awaitable[None]]]], client: Any, args: Any
) -> dict[str, Any]:
    """Each scenario's figures, and its round trips (EVALSHA calls) per request."""

    async def evalsha_calls() -> int:
        stats = await client.info("commandstats")
        return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))

    c, n, r = args.concurrency, args.requests, args.rounds
    out: dict[str, Any] = {}
    for name, fn in scenarios:
        await _measure(fn, c, n // 4, 1)  # warm: leases grown, script loaded
        calls = await evalsha_calls()
        out[name] = await _measure(fn, c, n, r, args.redis_pid)
        out[name] += ((await evalsha_calls() - calls) / (n // c * c * r),)  # round trips/req
    return out


def _limiters(batcher: Any, settings: Any) -> tuple[Any, Any, str]:
    """The rate and probing limiters as the composition root builds them (leases where the
    code imported has them), and which leases."""
    from verify.adapters.attempts import RedisAttemptLimiter
    from verify.adapters.ratelimit import RateLimiter

    limiter: Any = RateLimiter(batcher, prefix="bench")
    leases = "none"
    try:  # the branch's composition: leases in front of the per-request path
        from verify.adapters.gcra_lease import LeasedRateLimiter

        limiter = LeasedRateLimiter(
            limiter, batcher, max_tokens=settings.rate_lease_max, ttl_s=settings.rate_lease_ttl_s
        )
        leases = f"max {settings.rate_lease_max}"
    except ImportError:
        pass
    attempts: Any = RedisAttemptLimiter(batcher, prefix="bench", hmac_key=settings.hmac_key.value)
    try:  # the branch's composition: the probing limit's leases too
        from verify.adapters.gcra_lease import LeasedAttemptLimiter

        attempts = LeasedAttemptLimiter(
            attempts, batcher, max_tokens=settings.attempt_lease_max,
            ttl_s=settings.attempt_lease_ttl_s,
        )  # fmt: skip
        leases += f", attempts max {settings.attempt_lease_max}"
    except ImportError:
        pass
    return limiter, attempts, leases


async def _scenarios(redis_url: str, args: argparse.Namespace) -> dict[str, Any]:
    # imported here: --base swaps the package these come from
    from cache.breaker import Breaker
    from cache.redis_client import create_client
    from verify.adapters.gcra_batch import ChargeBatcher
    from verify.adapters.gcra_redis import redis_sender
    from verify.bootstrap import cache_settings_from
    from verify.service.attempts import charge_attempts
    from verify.service.auth import Principal
    from verify.service.limits import charge
    from verify.settings import Settings

    settings = Settings.from_env(
        {
            "VERIFY_DATABASE_URL": "postgresql://unused/unused",
            "VERIFY_REDIS_URL": redis_url,
            "VERIFY_HMAC_KEY": "a" * 64,
            "VERIFY_CACHE_KEY": "b" * 64,
            "VERIFY_REDIS_TIMEOUT": "1",
        }
    )
    client = create_client(cache_settings_from(settings))
    batcher = ChargeBatcher(redis_sender(client), breaker=Breaker(), deadline_s=4.0)
    limiter, attempts, leases = _limiters(batcher, settings)
    who = Principal(
        "bench-key", 1, "bench", frozenset({"verify"}), BURST_KEY_RATE, 2 * BURST_KEY_RATE
    )
    rng = random.Random(1)

    def subject() -> str:
        return f"{rng.randrange(10**12):012d}"

    async def empty() -> None:
        return None

    async def rate() -> None:
        await charge(who, 1, limiter)

    async def verify() -> None:
        await charge(who, 1, limiter)
        [refused] = await charge_attempts(1, [subject()], attempts, 50)
        assert refused is None

    hot_set = [f"{rng.randrange(10**12):012d}" for _ in range(1_000)]

    async def hot() -> None:
        await charge(who, 1, limiter)
        [refused] = await charge_attempts(1, [rng.choice(hot_set)], attempts, HOT_QUOTA)
        assert refused is None

    async def batch() -> None:
        refused = await charge_attempts(1, [subject() for _ in range(1_000)], attempts, 50)
        assert not any(refused)

    async def idle() -> None:  # a request arriving a few ticks late, doing nothing
        for _ in range(rng.randrange(4)):
            await asyncio.sleep(0)

    async def spread() -> None:  # a verify arriving a few ticks late, as a server's do
        await idle()
        await verify()

    scenarios = [("empty", empty), ("rate", rate), ("verify", verify), ("hot", hot)]
    scenarios += [("idle", idle), ("spread", spread)]
    out: dict[str, Any] = {"leases": leases, **await _measure_all(scenarios, client, args)}
    n, r, pid = args.requests, args.rounds, args.redis_pid
    cpu, per_s, redis = await _measure(batch, 1, max(20, n // 200), r, pid)
    out["batch"] = (cpu / 1000, per_s * 1000, redis / 1000)  # per item, items/s
    await _close(limiter, attempts, batcher)
    await client.aclose()
    return out


async def _close(*limiters: Any) -> None:
    """Each one's leases in flight (where it has leases), then the batcher's calls."""
    for limiter in limiters:
        if hasattr(limiter, "aclose"):
            await limiter.aclose()


def _table(rows: dict[str, dict[str, Any]]) -> str:
    names = list(rows)
    lines = [abrun.header(names, 26)]
    lines.append(f"{'leases':26}" + "".join(f"{rows[n]['leases']:>22}" for n in names))
    keys = ["empty", "rate", "verify", "hot", "idle", "spread"]
    for key, unit in [*((k, "req") for k in keys), ("batch", "item")]:
        lines.append(f"{key + ' µs/' + unit + ' (' + unit + '/s)':26}" + abrun.cells(rows, key, 1))
    for key, unit in [
        ("rate", "req"), ("verify", "req"), ("hot", "req"), ("spread", "req"), ("batch", "item")
    ]:  # fmt: skip
        lines.append(
            f"{'  ' + key + ' Redis µs/' + unit:26}"
            + "".join(f"{rows[n][key][2]:>10.1f}{'':12}" for n in names)
        )
    for key in ("verify", "hot", "spread"):
        lines.append(
            f"{'  ' + key + ' round trips/req':26}"
            + "".join(f"{rows[n][key][3]:>10.3f}{'':12}" for n in names)
        )
    empty_of = {"rate": "empty", "verify": "empty", "hot": "empty", "spread": "idle"}
    if len(names) == 2:
        before, after = rows[names[0]], rows[names[1]]
        lines.append("after/before, CPU per request (lower is better) and per second:")
        for key in ("rate", "verify", "hot", "spread", "batch"):
            net_b = before[key][0] - (before[empty_of[key]][0] if key in empty_of else 0)
            net_a = after[key][0] - (after[empty_of[key]][0] if key in empty_of else 0)
            redis = after[key][2] / before[key][2] if before[key][2] else float("nan")
            line = abrun.ratio(key, before, after, (net_b, net_a))
            lines.append(f"{line}, Redis CPU {redis:.2f}x")
    return "\n".join(lines)


def main() -> None:
    parser = abrun.arguments(__doc__, "requests", 20_000)
    parser.add_argument("--redis-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        abrun.answer(lambda: _scenarios(args.child, args))
        return
    argv = abrun.forwarded(args, ("concurrency", "requests", "rounds"))
    with abrun.scratch_redis("limitbench-") as (redis, _tmp):
        argv += ["--redis-pid", str(redis.pid() or 0)]

        def child(packages: str) -> dict[str, Any]:
            return abrun.child(__file__, packages, redis.url, argv)

        rows = abrun.alternate(args.base, child, abrun.best_by("verify"))
    print(_table(rows))


if __name__ == "__main__":
    main()
