"""The HTTP layer's CPU per request, no network, no database: `python -m loadtest.httpbench`.

Requests are fed as raw HTTP/1.1 bytes to aiohttp's own protocol (``RequestHandler``) on a
fake transport, on ``CONNECTIONS`` keep-alive connections at once, under uvloop: everything
aiohttp and our code do per request runs (parsing, routing, the middleware, auth, the
handler, the response's headers and body), nothing of the kernel's. Three servers:

- ``hello``: loadtest/bench/hello.py's app (bench case (a), the framework's floor);
- ``verify``: the real API app (``http_app``) answering POST /v1/verify with a valid key,
  the service's ports replaced by the in-memory fakes of tests/unit/service/fakes.py
  (register, limiter, probing limit, audit: each answers at once, as cache hits do);
- ``service``: ``verify_audited`` alone on the same claim and fakes: what of ``verify``
  is not HTTP;
- ``cached``: ``verify`` with the real adapters of a cached verify (bench case (f)): the
  register cache (``CachedRegister``, its L1 warm, no Redis tier), the leased rate and
  probing limiters on a ``ChargeBatcher`` whose "Redis" is the GCRA script in memory
  (tests/unit/gcra_fakes.py; a round trip is a task step), the audit a no-op.

So ``verify - service`` is the HTTP layer's cost (aiohttp + verify/http + auth), and
``verify / hello`` shows how far it is from the framework's floor. Each is timed
``--rounds`` times in this thread's CPU time, best round kept (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from aiohttp import web

from cache.codec import Codec
from cache.keyspace import KeySpace
from cache.register import CachedRegister
from loadtest.bench import hello
from tests.unit.gcra_fakes import FakeBreaker, FakeRedis
from tests.unit.service import fakes
from verify.adapters.attempts import RedisAttemptLimiter
from verify.adapters.gcra_batch import ChargeBatcher
from verify.adapters.gcra_lease import LeasedAttemptLimiter, LeasedRateLimiter
from verify.adapters.ratelimit import RateLimiter
from verify.domain.claims import parse_claim
from verify.http.app import http_app
from verify.http.appkeys import AUTH, LIMITER, VERIFY_DEPS
from verify.metrics import Metrics
from verify.service.audit import RequestContext
from verify.service.auth import Authenticator, Principal, StoredKey, hash_secret
from verify.service.verification import VerifyDeps, verify_audited
from verify.settings import Settings

KEY_ID = "0123456789abcdef"
SECRET = "s" * 43
TOKEN = f"cv_{KEY_ID}_{SECRET}"
ID12 = "001090000001"
CLAIM = {
    "id_number": ID12,
    "full_name": "Nguyễn Văn An",
    "date_of_birth": "1990-05-14",
    "gender": "male",
    "purpose": "bench",
    "card_issue_date": "2021-07-01",
}
BODY = orjson.dumps(CLAIM)
ENV = {
    "VERIFY_DATABASE_URL": "postgresql://bench@127.0.0.1/none",
    "VERIFY_REDIS_URL": "redis://127.0.0.1:1",
    "VERIFY_HMAC_KEY": "k" * 64,
    "VERIFY_CACHE_KEY": "c" * 64,
    "VERIFY_MAX_CONCURRENCY": "1000",
}


def raw_request(path: str, body: bytes, key: str | None) -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Transport(asyncio.Transport):
    """Collects what the server writes; wakes the driver at the end of each response."""

    def __init__(self) -> None:
        super().__init__()
        self.out: list[bytes] = []
        self.answered: asyncio.Future[None] | None = None

    def write(self, data: Any) -> None:
        self.out.append(bytes(data))
        if self.answered is not None and not self.answered.done():
            self.answered.set_result(None)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name in ("peername", "sockname") else default

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


class Store:
    def __init__(self) -> None:
        who = Principal(KEY_ID, 7, "bench", frozenset({"verify"}), 1_000_000, 1_000_000)
        self.key = StoredKey(who, hash_secret(SECRET), False)

    async def get_key(self, key_id: str) -> StoredKey | None:
        return self.key if key_id == KEY_ID else None


def verify_deps() -> VerifyDeps:
    today = fakes.TODAY
    return VerifyDeps(
        register=fakes.FakeRegister([fakes.record(ID12)]),
        audit=Audit(),
        hmac_key=b"k" * 32,
        today=lambda: today,
        now=lambda: dt.datetime.now(dt.UTC),
        attempts=fakes.FakeAttempts(),
        attempts_per_day=1_000_000,
    )


class Audit:
    async def record(self, entries: object) -> None:
        return None


def verify_app() -> web.Application:
    settings = Settings.from_env(ENV)
    app = http_app(settings, today=lambda: fakes.TODAY, metrics=Metrics())
    app[AUTH] = Authenticator(Store(), ttl_s=3600.0)
    app[LIMITER] = fakes.FakeLimiter()
    app[VERIFY_DEPS] = verify_deps()
    return app


class Source:
    """The record source behind the cache: only reached on an L1 miss (the warm-up)."""

    def __init__(self) -> None:
        self.records = {ID12: fakes.record(ID12)}

    async def fetch_records(self, ids: list[str]) -> dict[str, object]:
        return {i: self.records[i] for i in ids if i in self.records}

    async def resolve_former(self, former_ids: list[str]) -> dict[str, str]:
        return {}


def cached_app() -> web.Application:
    """The app of a cached verify, its adapters real but for the network (see above)."""
    app = verify_app()
    batcher = ChargeBatcher(FakeRedis(), breaker=FakeBreaker(), deadline_s=1.0)
    limiter = LeasedRateLimiter(
        RateLimiter(batcher, prefix="b"), batcher, max_tokens=1000, ttl_s=1.0
    )
    attempts = LeasedAttemptLimiter(
        RedisAttemptLimiter(batcher, prefix="b", hmac_key=b"k" * 32), batcher,
        max_tokens=1000, ttl_s=1.0,
    )  # fmt: skip
    register = CachedRegister(
        Source(),  # type: ignore[arg-type]
        keyspace=KeySpace("b", b"k" * 32),
        codec=Codec(b"c" * 32),
        redis=None,
    )
    app[LIMITER] = limiter
    app[VERIFY_DEPS] = dataclasses.replace(app[VERIFY_DEPS], register=register, attempts=attempts)
    return app


CONNECTIONS = 8  # requests in flight at once: a loaded server ends several per loop tick


async def drive(app: web.Application, request: bytes, n: int) -> float:
    """CPU seconds per request of ``n`` requests through aiohttp's protocol, ``CONNECTIONS``
    keep-alive connections each sending its next request when its answer came."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()  # what `verify serve` does, short of listening
    assert runner.server is not None
    loop = asyncio.get_running_loop()
    connections = []
    for _ in range(CONNECTIONS):
        handler = runner.server()  # the protocol of one connection
        transport = Transport()
        handler.connection_made(transport)
        connections.append((handler, transport))

    async def send(rounds: int) -> None:
        for _ in range(rounds):
            for handler, transport in connections:
                transport.out.clear()
                transport.answered = loop.create_future()
                handler.data_received(request)
            for _, transport in connections:
                assert transport.answered is not None
                await transport.answered

    await send(25)  # warm-up: caches, label children, the key
    first = b"".join(connections[0][1].out)
    if b" 200 OK" not in first.split(b"\r\n", 1)[0]:
        raise SystemExit(f"the bench request failed:\n{first.decode(errors='replace')[:600]}")
    rounds = max(1, n // CONNECTIONS)
    start = time.thread_time()
    await send(rounds)
    spent = time.thread_time() - start
    for handler, _ in connections:
        handler.connection_lost(None)
    await runner.cleanup()
    return spent / (rounds * CONNECTIONS)


async def service_only(n: int) -> float:
    deps = verify_deps()
    claim = parse_claim(CLAIM)
    now = dt.datetime.now(dt.UTC)
    ctx = RequestContext(7, "r" * 32, "verify", now, key_id=KEY_ID, purpose="bench")
    for _ in range(200):
        await verify_audited([claim], ctx, deps)
    start = time.thread_time()
    for _ in range(n):
        await verify_audited([claim], ctx, deps)
    return (time.thread_time() - start) / n


Run = Callable[[int], Coroutine[Any, Any, float]]  # n requests -> CPU seconds per request


def count_ops(run: Run, n: int) -> tuple[float, float]:
    """Bytecodes executed and calls made per request, by ``sys.settrace``/``setprofile``,
    counted over ``n`` requests and over none (the difference is per request)."""
    import sys

    import uvloop

    counts = [0, 0]

    def trace(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            counts[0] += 1
        return trace

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            counts[1] += 1

    def measured(k: int) -> tuple[int, int]:
        counts[:] = [0, 0]
        threading_trace, threading_profile = sys.gettrace(), sys.getprofile()
        sys.settrace(trace)
        sys.setprofile(profile)
        try:
            uvloop.run(run(k))
        finally:
            sys.settrace(threading_trace)
            sys.setprofile(threading_profile)
        return counts[0], counts[1]

    base_ops, base_calls = measured(CONNECTIONS)
    ops, calls = measured(CONNECTIONS + n)
    return (ops - base_ops) / n, (calls - base_calls) / n


def best(rounds: int, run: Run, n: int) -> float:
    import uvloop

    return min(uvloop.run(run(n)) for _ in range(rounds))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--requests", type=int, default=20_000, help="requests per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument(
        "--only", choices=("hello", "verify", "service", "cached"),
        help="run one server only (e.g. under `perf stat -e instructions:u`: instructions are "
        "what a busy machine distorts least; run two --requests counts and take the difference)",
    )  # fmt: skip
    p.add_argument(
        "--ops", action="store_true",
        help="count the bytecodes and the Python and C calls per request instead of timing "
        "them: exact, whatever else the machine runs (use a few hundred --requests)",
    )  # fmt: skip
    args = p.parse_args(argv)
    n = args.requests
    hello_req = raw_request("/v1/verify", BODY, None)
    verify_req = raw_request("/v1/verify", BODY, TOKEN)
    runs: dict[str, Run] = {
        "hello": lambda k: drive(hello.create_app(args), hello_req, k),
        "verify": lambda k: drive(verify_app(), verify_req, k),
        "service": service_only,
        "cached": lambda k: drive(cached_app(), verify_req, k),
    }
    if args.ops:
        for name, run in runs.items():
            ops, calls = count_ops(run, n)
            print(f"{name:8s} {ops:7.0f} bytecodes {calls:5.0f} calls per request")
        return
    if args.only:
        print(f"{args.only:8s} {best(args.rounds, runs[args.only], n) * 1e6:7.1f} us/request")
        return
    figures = {name: best(args.rounds, run, n) for name, run in runs.items()}
    for name, seconds in figures.items():
        print(f"{name:8s} {seconds * 1e6:7.1f} us/request")
    http = figures["verify"] - figures["service"]
    print(f"{'http':8s} {http * 1e6:7.1f} us/request (verify - service)")
    print(f"verify/hello {figures['verify'] / figures['hello']:.2f}")
    print(f"cached/hello {figures['cached'] / figures['hello']:.2f}")


if __name__ == "__main__":
    main()
