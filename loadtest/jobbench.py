"""Bulk-job throughput: one job of N lines through `verify serve` and ONE `verify worker`.

    python -m loadtest.jobbench --lines 1000000 [--register 1000000] [--chunk-lines 2000]

On the dev stack (`verify dev up`), in a register database of its own
(``verify_jobbench``, seeded once, reused while its size is the one asked for). Claims
are real register entries (name, birth date, gender, current card), so every line runs
the whole verify path and writes its audit row. Reports:

- upload: the NDJSON upload until its 202 (stored in chunks in Postgres);
- worker: ``lines_total / (finished_at - started_at)`` of the job row: lines verified,
  audited and committed per second by one worker;
- results: reading every result line back, in order;
- the worker's CPU seconds per 1,000 lines, and a calibration loop (10M additions) of
  the same run, since machines here differ 2-3x.

The claims file holds (synthetic) personal data: it lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from loadtest.bench.claims import _sample
from loadtest.bench.procs import Server, cpu_seconds, running
from loadtest.bench.stack import create_key, database_url, dev_up, ensure_register
from verify.devservers import free_port

ROOT = Path(__file__).resolve().parents[1]
VERIFY = ROOT / ".venv" / "bin" / "verify"
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)


def calibration_s() -> float:
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


async def _write_claims(url: str, path: Path, lines: int, register: int) -> None:
    claims = await _sample(url, min(lines, register, 200_000), register, seed=7)
    with path.open("wb") as f:
        written = 0
        while written < lines:
            for claim in claims[: lines - written]:
                f.write(orjson.dumps(claim) + b"\n")
            written += min(len(claims), lines - written)


async def _job(base: str, key: str, path: Path) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        started = time.perf_counter()
        with path.open("rb") as body:
            async with session.post(
                f"{base}/v1/jobs?purpose=bench", data=body, headers=headers
            ) as response:
                job = await response.json()
                assert response.status == 202, job
        upload_s = time.perf_counter() - started
        status_url = f"{base}{job['status_url']}"
        while True:
            async with session.get(status_url, headers=headers) as response:
                status = await response.json()
            if status["state"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.5)  # polling a long job's progress, not a readiness wait
        started = time.perf_counter()
        count = 0
        async with session.get(f"{base}{job['results_url']}", headers=headers) as response:
            async for line in response.content:
                count += line.endswith(b"\n")
        results_s = time.perf_counter() - started
    return {**status, "upload_s": upload_s, "results_s": results_s, "results_lines": count}


def _seconds(a: object, b: object) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(str(b)) - datetime.fromisoformat(str(a))).total_seconds()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--register", type=int, default=1_000_000)
    p.add_argument("--chunk-lines", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=2)
    args = p.parse_args()
    env = {**os.environ}
    dev = dev_up(VERIFY, env)
    env.update(dev.env)
    url, _ = ensure_register(VERIFY, env, database="verify_jobbench", count=args.register, seed=1)
    owner = env.get("VERIFY_ADMIN_DATABASE_URL") or env["VERIFY_DATABASE_URL"]
    env.update(
        VERIFY_DATABASE_URL=url,
        # the key goes in the bench's database, where `verify serve` looks for it
        VERIFY_ADMIN_DATABASE_URL=database_url(owner, "verify_jobbench"),
        VERIFY_JOB_CHUNK_LINES=str(args.chunk_lines),
        VERIFY_JOB_CONCURRENCY=str(args.concurrency),
        VERIFY_LOG_LEVEL="WARNING",
    )
    key = create_key(VERIFY, env)
    calibration = calibration_s()
    with tempfile.TemporaryDirectory(prefix="jobbench-") as tmp:
        folder = Path(tmp)
        claims = folder / "claims.ndjson"
        asyncio.run(_write_claims(url, claims, args.lines, args.register))
        api_port, metrics_port = free_port(), free_port()
        api = Server(
            "api", [str(VERIFY), "serve", "--port", str(api_port)], env, api_port, 1,
            folder / "api.log", ROOT,
        )  # fmt: skip
        worker_env = {**env, "VERIFY_WORKER_METRICS_PORT": str(metrics_port)}
        worker = Server(
            "worker", [str(VERIFY), "worker"], worker_env, metrics_port, 1,
            folder / "worker.log", ROOT,
        )  # fmt: skip
        with running(api), running(worker):
            assert worker.proc is not None
            cpu_before = cpu_seconds(worker.proc.pid)
            report = asyncio.run(_job(api.base_url, key, claims))
            cpu = cpu_seconds(worker.proc.pid) - cpu_before
    work_s = _seconds(report["started_at"], report["finished_at"])
    lines = int(str(report["lines_total"]))
    summary = {
        "lines": lines,
        "state": report["state"],
        "counts": report["counts"],
        "chunk_lines": args.chunk_lines,
        "upload_s": round(float(str(report["upload_s"])), 2),
        "upload_lines_per_s": round(lines / float(str(report["upload_s"]))),
        "worker_s": round(work_s, 2),
        "worker_lines_per_s": round(lines / work_s),
        "worker_cpu_ms_per_1000_lines": round(1000 * cpu / lines * 1000, 1),
        "results_s": round(float(str(report["results_s"])), 2),
        "results_lines": report["results_lines"],
        "calibration_10M_additions_s": round(calibration, 3),
    }
    print(json.dumps(summary, indent=2))
    return 0 if report["state"] == "done" and report["results_lines"] == lines else 1


if __name__ == "__main__":
    sys.exit(main())
