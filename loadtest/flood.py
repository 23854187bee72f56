"""The overload check of `make loadtest`: one worker, its capacity at 32 connections, then
a flood of 1,000 connections (wrk, no think time, Retry-After ignored), in the same run.

Gates (DESIGN.md invariant 4): under the flood the overall p99 stays under 1 s, some
requests are refused fast with 503 ``overloaded``, goodput (2xx/s) stays at least 0.8x
the capacity, and nothing is a server error: the server log holds no unhandled error,
and every non-2xx is a 503 overload (the log is searched for other 5xx).
Writes loadtest/results/flood.json; exits 1 when a gate fails.

Expects the VERIFY_* environment of the dev stack and a seeded register.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import orjson

from loadtest.bench import wrk
from loadtest.people import Person, claim
from loadtest.sample import fetch_sample
from loadtest.service import mint_keys, running_server
from verify.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]
P99_GATE_MS = 1000.0
GOODPUT_GATE = 0.8


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtest.flood", description=__doc__)
    p.add_argument("--seconds", type=float, default=15.0, help="per wrk run")
    p.add_argument("--capacity-connections", type=int, default=32)
    p.add_argument("--flood-connections", type=int, default=1000)
    p.add_argument("--sample", type=int, default=5000)
    p.add_argument("--results", type=Path, default=ROOT / "loadtest" / "results")
    return p.parse_args(argv)


def _bodies(people: list[dict[str, object]], path: Path) -> None:
    with path.open("wb") as f:
        for raw in people:
            person = Person(**raw)  # type: ignore[arg-type]
            f.write(orjson.dumps(claim(person, purpose="flood")) + b"\n")


def _server_errors(log: Path) -> int:
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(1 for line in text.splitlines() if '"unhandled error"' in line)


def gates(capacity: wrk.WrkResult, flood: wrk.WrkResult, errors: int) -> list[str]:
    goodput = (flood.requests - flood.non_2xx) / flood.duration_s
    problems = []
    if flood.p99_ms > P99_GATE_MS:
        problems.append(f"p99 {flood.p99_ms:.0f} ms > {P99_GATE_MS:.0f} ms")
    if goodput < GOODPUT_GATE * capacity.requests_per_s:
        problems.append(f"goodput {goodput:.0f}/s < {GOODPUT_GATE} x {capacity.requests_per_s}")
    if flood.non_2xx == 0:
        problems.append("nothing was refused: the flood queued instead")
    if errors:
        problems.append(f"{errors} unhandled errors in the server log")
    if capacity.non_2xx:
        problems.append(f"{capacity.non_2xx} non-2xx at capacity")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as e:
        print(f"flood: {e} (run through `make loadtest`)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="verify-flood-") as tmp:
        bodies, log = Path(tmp) / "bodies.ndjson", Path(tmp) / "serve.log"
        _bodies(asyncio.run(fetch_sample(settings.database_url, args.sample)), bodies)
        key = asyncio.run(mint_keys(settings.owner_database_url))["agency"]
        with running_server(1, log) as url:
            capacity = _run(url, bodies, key, args.capacity_connections, args.seconds)
            flood = _run(url, bodies, key, args.flood_connections, args.seconds)
            errors = _server_errors(log)
    return _report(args, capacity, flood, errors)


def _run(url: str, bodies: Path, key: str, connections: int, seconds: float) -> wrk.WrkResult:
    load = wrk.Load(bodies=bodies, path="/v1/verify", connections=connections, key=key)
    result = wrk.run(url, load, seconds)
    print(f"flood: {connections} connections: {result}")
    return result


def _report(
    args: argparse.Namespace, capacity: wrk.WrkResult, flood: wrk.WrkResult, errors: int
) -> int:
    goodput = (flood.requests - flood.non_2xx) / flood.duration_s
    problems = gates(capacity, flood, errors)
    out = {
        "capacity": capacity.as_dict(),
        "flood": flood.as_dict(),
        "goodput_per_s": round(goodput, 1),
        "goodput_ratio": round(goodput / capacity.requests_per_s, 3),
        "unhandled_errors": errors,
        "gates": {"p99_ms": P99_GATE_MS, "goodput_ratio": GOODPUT_GATE},
        "problems": problems,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "flood.json").write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"flood: capacity {capacity.requests_per_s:,.0f}/s at {args.capacity_connections}; "
        f"{args.flood_connections} connections: p99 {flood.p99_ms:.0f} ms, goodput "
        f"{goodput:,.0f}/s ({out['goodput_ratio']}x), refused {flood.non_2xx:,}"
    )
    for problem in problems:
        print(f"flood: FAILED {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
