"""`make bench`'s (a) and (c) only, with the rate-limit leases off and on, in one invocation:
`python -m loadtest.leasebench`.

(a) hello world, then (c) POST /v1/verify with every lookup a cache hit, alternating
``VERIFY_RATE_LEASE_MAX=0`` (every request charged at Redis, as before the leases) and
``1000`` (the default), ``--turns`` times each (``--setting VERIFY_ATTEMPT_LEASE_MAX``:
the probing limit's leases instead, off by default: 0 against 1000); every (c) run is
profiled with py-spy for its per-stage table, whose "auth" column is the limiters' CPU per
request. Prints, per run, requests/s and app CPU µs per request as ratios to hello world of
the same invocation, and the auth stage.
A small register of its own (``--count``, database ``verify_bench_small``) is enough: every
lookup of (c) is a cache hit. The machine is shared: compare within one invocation only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from loadtest.bench import claims, profile, stack
from loadtest.bench.measure import Timing
from loadtest.bench.scenarios import BATCHES, REDIS_PREFIX, Bench, Options


def _server_us(run: dict[str, Any]) -> float:
    per_request = run.get("cpu_us_per_request", {})
    return float(per_request.get("server", 0.0)) if isinstance(per_request, dict) else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--profile-seconds", type=float, default=8.0)
    p.add_argument("--turns", type=int, default=2)
    p.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    p.add_argument(
        "--setting", default="VERIFY_RATE_LEASE_MAX",
        choices=("VERIFY_RATE_LEASE_MAX", "VERIFY_ATTEMPT_LEASE_MAX"),
        help="the leases turned off (0) and on (the default) in turn",
    )  # fmt: skip
    args = p.parse_args()
    options = Options(
        count=args.count, seed=1, database="verify_bench_small", workers=2, connections=64,
        batch_connections=16, random_ids=2_000, hot_ids=1_000, batch_items=1_000,
        timing=Timing(args.warmup, args.duration, args.profile_seconds, 60.0),
    )  # fmt: skip
    verify = Path(sys.executable).parent / "verify"
    rows: list[tuple[str, dict[str, Any], dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="leasebench-") as tmp:
        bench = Bench(options, verify, Path(tmp))
        dev = stack.dev_up(verify, os.environ)
        base = {**os.environ, **dev.env}
        base.pop("PROMETHEUS_MULTIPROC_DIR", None)
        try:
            url, _ = stack.ensure_register(
                verify, base, database=options.database, count=options.count, seed=1
            )
            admin = stack.database_url(
                base.get("VERIFY_ADMIN_DATABASE_URL") or url, options.database
            )
            env = {
                **base, "VERIFY_DATABASE_URL": url, "VERIFY_ADMIN_DATABASE_URL": admin,
                "VERIFY_REDIS_KEY_PREFIX": REDIS_PREFIX, "VERIFY_CACHE_ENABLED": "true",
            }  # fmt: skip
            stack.reset_audit(admin)
            key = stack.create_key(verify, env)
            bodies = claims.export(
                url, Path(tmp), register_size=options.count, size=options.random_ids,
                hot=options.hot_ids, batches=BATCHES, batch_items=options.batch_items,
            )  # fmt: skip
            cases = bench._cases(bodies, key)
            hello = bench.server("hello", [sys.executable, "-m", "loadtest.bench.hello"], env)
            bench.measure(hello, [cases["a"]])
            rows.append(("(a) hello world", bench.outcome.servers.pop("a"), {}))
            for turn in range(args.turns):
                for label, lease_max in [("leases off", "0"), ("leases on", "1000")]:
                    served = {**env, args.setting: lease_max}
                    name = f"verify_{label.replace(' ', '_')}_{turn}"
                    case = dataclasses.replace(cases["c"], key="c")
                    bench.measure(bench.server(name, [str(verify), "serve"], served), [case], key)
                    run = bench.outcome.servers.pop("c")
                    found = bench.outcome.profiles.pop("c", None)
                    stages = profile.stage_us(found, _server_us(run)) if found else {}
                    rows.append((f"(c) {label}", run, stages))
        finally:
            if not dev.was_running:
                stack.verify_cli(verify, ["dev", "down"], base)
    hello_rps = float(rows[0][1]["requests_per_s"])
    hello_us = _server_us(rows[0][1])
    print(f"{'':18}{'req/s':>9}{'x hello':>9}{'app µs/req':>12}{'x hello':>9}{'auth µs':>9}")
    for label, figures, stages in rows:
        rps, us = float(figures["requests_per_s"]), _server_us(figures)
        auth = f"{stages['auth']:9.1f}" if "auth" in stages else f"{'':>9}"
        print(f"{label:18}{rps:9.0f}{rps / hello_rps:9.2f}{us:12.1f}{us / hello_us:9.2f}{auth}")
    if args.out is not None:
        out = [{"run": label, **fig, "stage_us": stages} for label, fig, stages in rows]
        args.out.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
