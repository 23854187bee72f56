"""The servers and their loads, measured one server at a time on the bench's own stack."""

from __future__ import annotations

import contextlib
import os
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from loadtest.bench import claims, measure, profile, register, stack
from loadtest.bench.measure import Case, Timing
from loadtest.bench.procs import Server, children, running
from loadtest.bench.wrk import Load
from verify import devservers

ROOT = Path(__file__).resolve().parents[2]
SIDE_BATCH_CONNECTIONS = 4  # (j): batches in flight beside the verifies
# (j)'s verifies: few, so that their latency is what a verify waits beside the batches, not
# the queue of a saturated machine (64 connections at N req/s wait 64/N s by arithmetic)
BESIDE_CONNECTIONS = 4
REDIS_PREFIX = "cvbench"  # the bench's cache entries stay apart from the dev app's
BATCHES = 100  # distinct batch bodies of (e)


@dataclass(frozen=True)
class Options:
    count: int
    seed: int
    database: str
    workers: int
    connections: int
    batch_connections: int
    random_ids: int
    hot_ids: int
    batch_items: int
    timing: Timing
    cases: frozenset[str] = frozenset("abcdefghij")  # --cases: the servers measured


@dataclass
class Outcome:
    servers: dict[str, dict[str, object]] = field(default_factory=dict)
    profiles: dict[str, profile.Profile] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seeded: bool = False
    register: dict[str, object] = field(default_factory=dict)  # --register: size, page reads


def infra_pids(data_dir: Path) -> dict[str, list[int]]:
    """PostgreSQL (postmaster and backends) and Redis processes of the dev servers."""
    groups: dict[str, list[int]] = {"postgres": [], "redis": []}
    pg = devservers.postgres_status(data_dir)
    if pg is not None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
            groups["postgres"] = [postmaster, *children(postmaster)]
    redis = devservers.redis_status(data_dir)
    if redis is not None and (pid := redis.pid()) is not None:
        groups["redis"] = [pid]
    return groups


def post(url: str, body: bytes, key: str | None) -> bytes:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        data: bytes = response.read()
    return data


def _first_line(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.readline().strip()


class Bench:
    def __init__(self, options: Options, verify: Path, tmp: Path) -> None:
        self.o = options
        self.verify = verify
        self.tmp = tmp
        self.data_dir = Path(os.environ.get("VERIFY_DATA_DIR", ROOT / ".data")).resolve()
        self.outcome = Outcome()
        self.admin_url: str | None = None  # set: each server starts on an empty audit log

    def server(self, name: str, argv: list[str], env: dict[str, str]) -> Server:
        port, ops_port = devservers.free_port(), devservers.free_port()
        argv = [*argv, "--port", str(port), "--workers", str(self.o.workers)]
        env = {**env, "VERIFY_METRICS_PORT": str(ops_port)}  # /metrics for appstats
        # wrk replays the same claims: not an agency probing people
        env["VERIFY_SUBJECT_ATTEMPTS_PER_DAY"] = "1000000000"
        env["VERIFY_MAX_CONCURRENT_PER_KEY"] = "100000"  # one key is the whole load
        log_path = self.tmp / f"{name}.log"
        return Server(name, argv, env, port, self.o.workers, log_path, ROOT, ops_port)

    def measure(self, server: Server, cases: list[Case], key: str | None = None) -> None:
        cases = [c for c in cases if c.key in self.o.cases]
        if not cases:  # --cases left this server out: not even started
            return
        if self.admin_url is not None:  # no server writes into an index the last one grew
            stack.reset_audit(self.admin_url)
        with running(server):
            for case in cases:
                # one request first: a 4xx/5xx (bad key, missing table) stops the run here
                post(server.base_url + case.load.path, _first_line(case.load.bodies), key)
                if case.key in ("c", "f", "g") and key is not None:
                    self.warm(server, case.load.bodies, key)
                run, found = measure.run_case(
                    server, case, self.o.timing, lambda: infra_pids(self.data_dir), self.tmp
                )
                self.outcome.servers[case.key] = run
                if found is not None:
                    self.outcome.profiles[case.key] = found

    def warm(self, server: Server, hot: Path, key: str) -> None:
        """The hot set through the batch route, a few times so that every worker sees it."""
        lines = hot.read_bytes().splitlines()
        batch = b'{"items":[' + b",".join(ln for ln in lines if ln.strip()) + b"]}"
        for _ in range(2 * self.o.workers):
            post(server.base_url + "/v1/verify/batch", batch, key)

    def run_all(self) -> Outcome:
        python, verify = str(Path(sys.executable)), str(self.verify)
        dev = stack.dev_up(self.verify, os.environ)
        base = {**os.environ, **dev.env}
        base.pop("PROMETHEUS_MULTIPROC_DIR", None)  # `verify serve` makes its own
        try:
            url, self.outcome.seeded = stack.ensure_register(
                self.verify, base, database=self.o.database, count=self.o.count, seed=self.o.seed
            )
            admin = stack.database_url(
                base.get("VERIFY_ADMIN_DATABASE_URL") or url, self.o.database
            )
            env = {
                **base, "VERIFY_DATABASE_URL": url, "VERIFY_ADMIN_DATABASE_URL": admin,
                "VERIFY_REDIS_KEY_PREFIX": REDIS_PREFIX,
            }  # fmt: skip
            self.admin_url = admin
            key = stack.create_key(self.verify, env)
            bodies = claims.export(
                url, self.tmp, register_size=self.o.count, size=self.o.random_ids,
                hot=self.o.hot_ids, batches=BATCHES, batch_items=self.o.batch_items,
            )  # fmt: skip
            cases = self._cases(bodies, key)
            self.measure(self.server("hello", [python, "-m", "loadtest.bench.hello"], env),
                         [cases["a"]])  # fmt: skip
            self.measure(self.server("naive_pg", [python, "-m", "loadtest.bench.naive_pg"], env),
                         [cases["b"]])  # fmt: skip
            cached = {**env, "VERIFY_CACHE_ENABLED": "true"}
            self.measure(self.server("verify_cached", [verify, "serve"], cached),
                         [cases["c"]], key)  # fmt: skip
            fleet = [python, "-m", "loadtest.bench.fleet", verify, "serve", "--reuse-port"]
            self.measure(self.server("verify_fleet", fleet, cached), [cases["g"]], key)
            self.measure(self.server("verify_noaudit", [python, "-m", "loadtest.bench.noaudit"],
                                     cached), [cases["f"]], key)  # fmt: skip
            self.measure(self.server("floor", [python, "-m", "loadtest.bench.floor"], cached),
                         [cases["h"]])  # fmt: skip
            uncached = {**env, "VERIFY_CACHE_ENABLED": "false"}
            self.measure(self.server("verify_uncached", [verify, "serve"], uncached),
                         [cases["d"], cases["e"], cases["j"]], key)  # fmt: skip
            floor_uncached = [python, "-m", "loadtest.bench.floor", "--no-cache"]
            self.measure(self.server("floor_uncached", floor_uncached, env), [cases["i"]])
        finally:
            if not dev.was_running:  # the bench started them: leave the machine as it was
                stack.verify_cli(self.verify, ["dev", "down"], base)
        self._explain_cache()
        self._explain_load()
        return self.outcome

    def run_register(self) -> Outcome:
        """--register: only (d), verify with the caches off on random IDs of a large register,
        with the database's size and the share of page reads that missed shared buffers."""
        verify = str(self.verify)
        dev = stack.dev_up(self.verify, os.environ)
        base = {**os.environ, **dev.env}
        base.pop("PROMETHEUS_MULTIPROC_DIR", None)
        try:
            url, self.outcome.seeded = stack.ensure_register(
                self.verify, base, database=self.o.database, count=self.o.count, seed=self.o.seed
            )
            admin = stack.database_url(
                base.get("VERIFY_ADMIN_DATABASE_URL") or url, self.o.database
            )
            env = {
                **base, "VERIFY_DATABASE_URL": url, "VERIFY_ADMIN_DATABASE_URL": admin,
                "VERIFY_REDIS_KEY_PREFIX": REDIS_PREFIX,
            }  # fmt: skip
            stack.reset_audit(admin)
            key = stack.create_key(self.verify, env)
            bodies = register.export(  # seed_runs is the owner's
                admin, self.tmp, count=self.o.count, size=self.o.random_ids,
                batch_items=self.o.batch_items,
            )  # fmt: skip
            case = self._cases(bodies, key)["d"]
            seed_record = register.seeded(admin, self.o.count)
            load = os.getloadavg()[0]
            before = register.stats(admin)
            uncached = {**env, "VERIFY_CACHE_ENABLED": "false"}
            self.measure(self.server("verify_uncached", [verify, "serve"], uncached), [case], key)
            after = register.stats(admin)
        finally:
            if not dev.was_running:
                stack.verify_cli(self.verify, ["dev", "down"], base)
        reads = after["blks_read"] - before["blks_read"]
        hits = after["blks_hit"] - before["blks_hit"]
        self.outcome.register = {
            "citizens": self.o.count,
            "database": self.o.database,
            "database_size_bytes": after["size"],
            "database_size_gib": round(after["size"] / 2**30, 2),
            "page_reads_missing_shared_buffers": reads,
            "page_reads_hitting_shared_buffers": hits,
            "miss_share": round(reads / (reads + hits), 3) if reads + hits else None,
            "load_average_before": round(load, 2),  # 1-minute, machine-wide
            **seed_record,
        }
        self._explain_load()
        return self.outcome

    def _cases(self, bodies: claims.Bodies, key: str) -> dict[str, Case]:
        c, bc, profiled = self.o.connections, self.o.batch_connections, self.o.timing.profile_s > 0
        hot, rand = bodies.hot, bodies.random_ids
        verify = "/v1/verify"
        return {
            "a": Case("a", "hello world: aiohttp + uvloop + orjson, POST", "hello world",
                      Load(hot, verify, c)),
            "b": Case("b", "naive: one asyncpg SELECT per request, random IDs", "naive SELECT",
                      Load(rand, verify, c)),
            "c": Case("c", "POST /v1/verify, cache on, hot set (all hits)", "verify\ncache hits",
                      Load(hot, verify, c, key=key), profile=profiled, app_stats=True),
            "d": Case("d", f"POST /v1/verify, caches off, random IDs of {self.o.count:,}",
                      "verify\ncaches off", Load(rand, verify, c, key=key), profile=profiled,
                      app_stats=True),
            "e": Case("e", f"POST /v1/verify/batch, {bodies.batch_items:,} items, caches off",
                      "batch\n1,000 items", Load(bodies.batches, "/v1/verify/batch", bc, key=key),
                      items_per_request=bodies.batch_items, profile=profiled,
                      app_stats=True),
            "f": Case("f", "POST /v1/verify, cache on, hot set, audit replaced by a no-op",
                      "verify\nno audit", Load(hot, verify, c, key=key), app_stats=True),
            "g": Case("g", "as (c), single-process instances: metrics in process",
                      "verify\nper-process\nmetrics", Load(hot, verify, c, key=key)),
            "h": Case("h", "floor of (c): dict, Redis limit, audit COPY, no more",
                      "floor of (c)", Load(hot, verify, c), profile=profiled),
            "i": Case("i", f"floor of (d): as (h), Postgres, random IDs of {self.o.count:,}",
                      "floor of (d)", Load(rand, verify, c), profile=profiled),
            "j": Case("j", f"as (d), {BESIDE_CONNECTIONS} clients, beside "
                      f"{SIDE_BATCH_CONNECTIONS} posting batches", "verify\nbeside\nbatches",
                      Load(rand, verify, BESIDE_CONNECTIONS, key=key),
                      app_stats=True,
                      side=Load(bodies.batches, "/v1/verify/batch", SIDE_BATCH_CONNECTIONS,
                                key=key),
                      side_items_per_request=bodies.batch_items),
        }  # fmt: skip

    def _explain_load(self) -> None:
        for key, run in self.outcome.servers.items():
            cores = run.get("cpu_cores")
            other = cores.get("other", 0.0) if isinstance(cores, dict) else 0.0
            if isinstance(other, float) and other >= 0.2:
                self.outcome.notes.append(
                    f"({key}): other processes on the machine used {other:.2f} cores during the "
                    "window: the numbers shared the 2 cores with them (rerun on a quiet machine "
                    "for clean figures)."
                )

    def _explain_cache(self) -> None:
        run = self.outcome.servers.get("c", {})
        cache = run.get("cache") if isinstance(run, dict) else None
        if isinstance(cache, dict) and not cache.get("lookups_by_tier_result"):
            self.outcome.notes.append(
                "(c): the app counted no cache lookups (verify_cache_requests_total): the cache "
                "is not wired into this build, so (c) measured the uncached path on a hot set "
                "of IDs (Postgres lookups batched per tick, pages in memory)."
            )
