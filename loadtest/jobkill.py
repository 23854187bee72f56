"""Issue #11's "done when": a big job through `verify-client check --job`, its worker SIGKILLed.

    python -m loadtest.jobkill [--lines 1000000] [--register 1000000] [--kills 0.3,0.7]

On the dev stack (`verify dev up`), in the register database the job bench uses
(``verify_jobbench``, seeded once). It writes a ministry's CSV of N lines: real register
entries of distinct people (``DD/MM/YYYY`` dates, ``Nam``/``Nữ``, the current card), some
with a changed name (no_match), some with an ID no one holds (not_found), some malformed
(an impossible date the client refuses, an ID the server refuses, a row with no ID).
It starts `verify serve` and ONE `verify worker`, runs the real command
`verify-client check --job --in X.csv --out Y.csv` as a subprocess, SIGKILLs the worker
when the job reaches each kill point (30 % and 70 % of its lines by default) and starts
a new one, waits for the client, then checks:

- the output CSV has exactly one row per input line, in input order;
- the job is done, ``lines_done = lines_total`` = the lines sent, and its results rows
  hold ``lines_total`` lines;
- the audit (read as the database owner) holds exactly one row per verified line with the
  job id as ``request_id``: as many rows as the output has verdicts (and probing-limit
  refusals), one per person (every line's ID is distinct), and the same count per
  verdict as the output;
- each kind of line got the answer its kind calls for.

Prints lines/s, the kill points and the checks; writes loadtest/results/jobkill.json.
Exit status 0 only when every check holds. The CSV (synthetic personal data) lives in a
temporary folder removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from loadtest.bench.procs import Server, running
from loadtest.bench.stack import database_url, dev_up, ensure_register, verify_cli
from loadtest.jobbench import calibration_s
from verify.devservers import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
VERIFY = BIN / "verify"
RESULTS = ROOT / "loadtest" / "results" / "jobkill.json"
CLIENT_TIMEOUT_S = 3 * 3600.0  # a bound on the whole run, not a goal
POLL_S = 0.2  # progress polling of a long job (not a readiness wait)
HEADER = ["SoDinhDanh", "HoTen", "NgaySinh", "GioiTinh", "NgayCapThe"]
COLUMN_MAP = (
    "id_number=SoDinhDanh,full_name=HoTen,date_of_birth=NgaySinh,gender=GioiTinh,"
    "card_issue_date=NgayCapThe"
)
# share of the lines of each kind; the rest are real entries, as they are in the register
MIX = {"changed_name": 0.04, "unknown_id": 0.03, "bad_date": 0.01, "bad_id": 0.01, "no_id": 0.01}
EXPECTED = {  # what each kind of line must come back as (verdict, or problem code)
    "changed_name": {"no_match"},
    "unknown_id": {"not_found"},
    "bad_date": {"problem:invalid_date"},
    "bad_id": {"problem:invalid_id_number"},
    "no_id": {"problem:missing_field"},
}
_SAMPLE_SQL = """
SELECT c.id_number, c.full_name, c.birth_date, c.birth_year_only, c.gender,
       (SELECT max(issue_date) FROM id_cards k WHERE k.id_number = c.id_number) AS issue
FROM citizens c TABLESAMPLE BERNOULLI ($1) REPEATABLE ($2)
"""


_HELD_SQL = """
SELECT id_number FROM citizens WHERE id_number = ANY($1::bigint[])
UNION SELECT former_id FROM former_ids WHERE former_id = ANY($1::bigint[])
"""


async def _people(
    url: str, size: int, register: int, seed: int, unknown: int
) -> tuple[list[asyncpg.Record], list[int]]:
    """``size`` distinct people of the register, and ``unknown`` distinct valid IDs no one
    holds (a sampled ID with its six random digits drawn again, kept when not in the
    register, as a current or a former ID)."""
    rng = random.Random(seed)
    percent = min(100.0, 100.0 * 1.2 * size / max(register, 1))
    conn = await asyncpg.connect(url, timeout=10, command_timeout=600)
    try:
        rows = list(await conn.fetch(_SAMPLE_SQL, percent, seed))
        if len(rows) < size:
            raise SystemExit(f"jobkill: the register sample has {len(rows):,} people, not {size:,}")
        rng.shuffle(rows)
        free: set[int] = set()
        while len(free) < unknown:
            ids = {r["id_number"] // 10**6 * 10**6 + rng.randrange(10**6) for r in rows[:unknown]}
            held = {r[0] for r in await conn.fetch(_HELD_SQL, list(ids - free))}
            free |= ids - held
    finally:
        await conn.close(timeout=10)
    return rows[:size], sorted(free)[:unknown]


def _date(d: dt.date, year_only: bool) -> str:
    return str(d.year) if year_only else d.strftime("%d/%m/%Y")


def _row(kind: str, person: asyncpg.Record, unknown_id: int | None) -> list[str]:
    number = f"{person['id_number']:012d}"
    name = person["full_name"]
    born = _date(person["birth_date"], person["birth_year_only"])
    gender = "Nam" if person["gender"] == b"M" else "Nữ"
    card = person["issue"].strftime("%d/%m/%Y") if person["issue"] is not None else ""
    if kind == "changed_name":
        name = " ".join([*name.split()[:-1], "Khánh" if not name.endswith("Khánh") else "Hưng"])
    elif kind == "unknown_id":
        assert unknown_id is not None
        number = f"{unknown_id:012d}"
    elif kind == "bad_date":
        born = "31/02/1990"
    elif kind == "bad_id":
        number = number[:7] + "AB"
    elif kind == "no_id":
        number = ""
    return [number, name, born, gender, card]


def write_csv(path: Path, owner_url: str, lines: int, register: int, seed: int) -> list[str]:
    """The input CSV; the kind of each line, in order."""
    rng = random.Random(seed)
    kinds = []
    for _ in range(lines):
        roll, kind = rng.random(), "real"
        for name, share in MIX.items():
            if roll < share:
                kind = name
                break
            roll -= share
        kinds.append(kind)
    n_unknown = kinds.count("unknown_id")
    people, unknown = asyncio.run(_people(owner_url, lines, register, seed, n_unknown))
    free = iter(unknown)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for kind, person in zip(kinds, people, strict=True):
            out.writerow(_row(kind, person, next(free) if kind == "unknown_id" else None))
    return kinds


@dataclass
class Worker:
    env: Mapping[str, str]
    folder: Path
    server: Server | None = None
    starts: int = 0

    def start(self) -> None:
        port = free_port()
        self.starts += 1
        self.server = Server(
            f"worker{self.starts}", [str(VERIFY), "worker"],
            {**self.env, "VERIFY_WORKER_METRICS_PORT": str(port)}, port, 1,
            self.folder / f"worker{self.starts}.log", ROOT,
        )  # fmt: skip
        self.server.start()
        self.server.wait_ready()

    def kill(self) -> None:
        assert self.server is not None and self.server.proc is not None
        os.killpg(self.server.proc.pid, signal.SIGKILL)  # its own session: this worker only
        self.server.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


async def _progress(conn: asyncpg.Connection, job_id: str) -> tuple[int, int, str]:
    row = await conn.fetchrow(
        "SELECT lines_done, lines_total, state FROM jobs WHERE id = $1::uuid", job_id
    )
    return (row["lines_done"], row["lines_total"], row["state"]) if row else (0, 0, "unknown")


def _job_id(stderr_path: Path, client: subprocess.Popen[bytes]) -> str | None:
    for line in stderr_path.read_text(errors="replace").splitlines():
        if line.startswith("job ") and line.endswith(" submitted"):
            return line.split()[1]
    if client.poll() is not None:
        raise SystemExit(f"jobkill: the client exited with {client.returncode} before a job")
    return None


def drive(
    owner_url: str, worker: Worker, client: subprocess.Popen[bytes], stderr_path: Path,
    kill_at: list[float],
) -> dict[str, Any]:  # fmt: skip
    """Kill the worker at each kill point, start a new one; wait for the client."""
    return asyncio.run(_drive(owner_url, worker, client, stderr_path, kill_at))


async def _drive(
    owner_url: str, worker: Worker, client: subprocess.Popen[bytes], stderr_path: Path,
    kill_at: list[float],
) -> dict[str, Any]:  # fmt: skip
    conn = await asyncpg.connect(owner_url, timeout=10)
    kills: list[dict[str, Any]] = []
    pending = sorted(kill_at)
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    job_id = None
    try:
        while client.poll() is None:
            if time.monotonic() > deadline:
                client.kill()
                raise SystemExit("jobkill: the client did not finish in time")
            await asyncio.sleep(POLL_S)
            job_id = job_id or _job_id(stderr_path, client)
            if job_id is None:
                continue
            done, total, state = await _progress(conn, job_id)
            if kills and "resumed_after_s" not in kills[-1] and done > kills[-1]["lines_done"]:
                kills[-1]["resumed_after_s"] = round(time.monotonic() - kills[-1]["at"], 1)
            if pending and total and state == "running" and done >= pending[0] * total:
                worker.kill()
                kills.append({"target": pending.pop(0), "lines_done": done, "at": time.monotonic()})
                print(f"jobkill: SIGKILL worker at {done:,}/{total:,} lines", file=sys.stderr)
                worker.start()
    finally:
        await conn.close(timeout=10)
    for k in kills:
        k.pop("at")
    return {"job_id": job_id, "kills": kills, "client_exit": client.returncode}


async def _job_facts(owner_url: str, job_id: str) -> dict[str, Any]:
    conn = await asyncpg.connect(owner_url, timeout=10, command_timeout=600)
    try:
        job = await conn.fetchrow("SELECT * FROM jobs WHERE id = $1::uuid", job_id)
        results = await conn.fetchrow(
            "SELECT count(*) AS chunks, coalesce(sum(n_lines), 0) AS lines "
            "FROM job_results WHERE job_id = $1::uuid",
            job_id,
        )
        audit = await conn.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT subject) AS subjects FROM audit_log "
            "WHERE request_id = $1",
            job_id,
        )
        verdicts = await conn.fetch(
            "SELECT coalesce(verdict, 'none') AS verdict, count(*) AS n FROM audit_log "
            "WHERE request_id = $1 GROUP BY 1",
            job_id,
        )
    finally:
        await conn.close(timeout=10)
    assert job is not None and results is not None and audit is not None
    return {
        "state": job["state"],
        "lines_total": job["lines_total"],
        "lines_done": job["lines_done"],
        "worker_s": (job["finished_at"] - job["started_at"]).total_seconds(),
        "results_chunks": results["chunks"],
        "results_lines": int(results["lines"]),
        "audit_rows": audit["n"],
        "audit_subjects": audit["subjects"],
        "audit_verdicts": {r["verdict"]: r["n"] for r in verdicts},
    }


def read_output(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:2] != ["line", "verdict"]:
        raise SystemExit("jobkill: the output CSV has no results header")
    return rows[1:]


def check(kinds: list[str], out: list[list[str]], facts: dict[str, Any]) -> dict[str, bool]:
    sent = sum(1 for k in kinds if k not in ("bad_date", "no_id"))  # the client refuses those
    verdicts = Counter(r[1] for r in out if r[1])
    refused = sum(1 for r in out if r[7] == "too_many_attempts")
    audited = {**verdicts, **({"too_many_attempts": refused} if refused else {})}
    answers: dict[str, Counter[str]] = {}
    for kind, row in zip(kinds, out, strict=False):
        answers.setdefault(kind, Counter())[row[1] or f"problem:{row[7]}"] += 1
    facts["answers_by_kind"] = {k: dict(v) for k, v in answers.items()}
    return {
        "one_output_row_per_input_line_in_order": [r[0] for r in out]
        == [str(n) for n in range(2, len(kinds) + 2)],
        "job_done": facts["state"] == "done",
        "lines_total_is_lines_sent": facts["lines_total"] == sent,
        "lines_done_is_lines_total": facts["lines_done"] == facts["lines_total"],
        "results_hold_one_line_per_job_line": facts["results_lines"] == facts["lines_total"],
        "audit_one_row_per_verified_line": facts["audit_rows"] == sum(audited.values()),
        "audit_one_row_per_person": facts["audit_subjects"] == facts["audit_rows"],
        "audit_verdicts_are_output_verdicts": facts["audit_verdicts"] == audited,
        "each_kind_answered_as_expected": all(
            set(answers.get(kind, {})) <= allowed for kind, allowed in EXPECTED.items()
        )
        and not any(a.startswith("problem:") for a in answers.get("real", {})),
    }


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--register", type=int, default=1_000_000)
    p.add_argument("--kills", default="0.3,0.7", help="fractions of the job's lines")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument(
        "--stale", default="10", help="VERIFY_JOB_STALE of the workers: how soon a killed "
        "worker's job is enqueued again (60 s by default in a deployment)",
    )  # fmt: skip
    args = p.parse_args()
    if args.lines > args.register:
        p.error("--lines at most --register (every line's person is distinct)")
    return args


def main() -> int:
    args = _args()
    env = {**os.environ}
    env.update(dev_up(VERIFY, env).env)
    url, _ = ensure_register(VERIFY, env, database="verify_jobbench", count=args.register, seed=1)
    owner = database_url(env.get("VERIFY_ADMIN_DATABASE_URL") or env["VERIFY_DATABASE_URL"],
                         "verify_jobbench")  # fmt: skip
    env.update(VERIFY_DATABASE_URL=url, VERIFY_ADMIN_DATABASE_URL=owner, VERIFY_LOG_LEVEL="WARNING")
    env.update(VERIFY_JOB_STALE=args.stale)
    key = verify_cli(
        VERIFY, ["keys", "create", "--agency", "jobkill", "--scopes", "verify",
                 "--purposes", "cleaning", "--rate", "10000000"], env,
    ).strip().splitlines()[-1]  # fmt: skip
    calibration = calibration_s()
    kill_at = [float(k) for k in args.kills.split(",") if k.strip()]
    with tempfile.TemporaryDirectory(prefix="jobkill-") as tmp:
        folder = Path(tmp)
        source, output = folder / "records.csv", folder / "results.csv"
        started = time.perf_counter()
        kinds = write_csv(source, owner, args.lines, args.register, args.seed)
        print(f"jobkill: {args.lines:,} lines written in {time.perf_counter() - started:.1f}s",
              file=sys.stderr)  # fmt: skip
        port = free_port()
        api = Server("api", [str(VERIFY), "serve", "--port", str(port)], env, port, 1,
                     folder / "api.log", ROOT)  # fmt: skip
        worker = Worker(env, folder)
        with running(api):
            worker.start()
            try:
                client_env = {**env, "VERIFY_URL": api.base_url, "VERIFY_API_KEY": key}
                argv = [str(BIN / "verify-client"), "check", "--job", "--in", str(source),
                        "--out", str(output), "--purpose", "cleaning", "--map", COLUMN_MAP,
                        "--no-progress"]  # fmt: skip
                stderr_path = folder / "client.err"
                started = time.perf_counter()
                with stderr_path.open("wb") as err:
                    client = subprocess.Popen(argv, env=client_env, stderr=err,
                                              stdout=subprocess.DEVNULL)  # fmt: skip
                    run = drive(owner, worker, client, stderr_path, kill_at)
                client_s = time.perf_counter() - started
            finally:
                worker.stop()
        client_err = stderr_path.read_text(errors="replace")
        if run["client_exit"] != 0 or run["job_id"] is None:
            print(client_err[-3000:], file=sys.stderr)
            return 1
        facts = asyncio.run(_job_facts(owner, run["job_id"]))
        checks = check(kinds, read_output(output), facts)
    report = {
        "lines": args.lines,
        "kinds": dict(Counter(kinds)),
        "kills": run["kills"],
        "worker_starts": worker.starts,
        "stale_s": float(args.stale),
        "client_s": round(client_s, 1),
        "client_lines_per_s": round(args.lines / client_s),
        "worker_s": round(facts["worker_s"], 1),
        "worker_lines_per_s": round(facts["lines_total"] / facts["worker_s"]),
        "calibration_10M_additions_s": round(calibration, 3),
        "job": {k: v for k, v in facts.items() if k != "worker_s"},
        "checks": checks,
        "client_summary": client_err.strip().splitlines()[-12:],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
