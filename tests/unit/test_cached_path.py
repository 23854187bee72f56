"""Issue #10's "an L1 hit answers without waiting for an event-loop tick": a cached verify of
a busy key on a busy person runs to its answer in one step of its task (no await suspends:
the register's L1, the rate limit's and the probing limit's leases answer in place), while
a person not cached, or not leased, does wait (the await is there when it must be)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

from cache.codec import Codec
from cache.keyspace import KeySpace
from cache.register import CachedRegister
from tests.unit.gcra_fakes import FakeBreaker, FakeRedis
from tests.unit.service import fakes
from verify.adapters.attempts import RedisAttemptLimiter
from verify.adapters.gcra_batch import ChargeBatcher
from verify.adapters.gcra_lease import LeasedAttemptLimiter, LeasedRateLimiter
from verify.adapters.ratelimit import RateLimiter
from verify.domain.claims import parse_claim
from verify.domain.gcra import Limit
from verify.domain.model import CitizenRecord, Verdict
from verify.service.audit import AuditEntry, RequestContext
from verify.service.auth import Principal
from verify.service.limits import charged_now
from verify.service.verification import VerifyDeps, verify_audited

HOT = "001090000001"
COLD = "001090000002"
WHO = Principal("k", 7, "bank", frozenset({"verify"}), rate_per_s=10_000, burst=20_000)


class Source:
    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    async def fetch_records(self, ids: list[str]) -> dict[str, CitizenRecord]:
        self.asked.append(ids)
        return {i: fakes.record(i) for i in ids}

    async def resolve_former(self, former_ids: list[str]) -> dict[str, str]:
        return {}


class Audit:
    def __init__(self) -> None:
        self.rows: list[AuditEntry] = []

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        self.rows += entries


async def run(coro: Coroutine[Any, Any, Any]) -> tuple[int, Any]:
    """Run ``coro`` to its end by hand, as its task would: (the times it suspended, waiting
    for the loop, and its result)."""
    waits = 0
    while True:
        try:
            waited_on = coro.send(None)
        except StopIteration as done:
            return waits, done.value
        waits += 1
        if isinstance(waited_on, asyncio.Future):
            waited_on._asyncio_future_blocking = False  # what a task does with it
            await asyncio.wait([waited_on])
        else:  # a bare yield (sleep(0)): a tick
            await asyncio.sleep(0)


async def test_a_cached_verify_of_a_busy_person_never_waits_for_a_tick() -> None:
    batcher = ChargeBatcher(FakeRedis(), breaker=FakeBreaker(), deadline_s=1.0)
    rates = LeasedRateLimiter(RateLimiter(batcher, prefix="t"), batcher, max_tokens=100, ttl_s=5)
    exact = RedisAttemptLimiter(batcher, prefix="t", hmac_key=b"k" * 32)
    attempts = LeasedAttemptLimiter(exact, batcher, max_tokens=100, ttl_s=5)
    source = Source()
    register = CachedRegister(
        source,
        keyspace=KeySpace("t", b"k" * 32),
        codec=Codec(b"c" * 32),
        redis=None,
    )
    audit = Audit()
    deps = VerifyDeps(
        register=register, audit=audit, hmac_key=b"h" * 32, today=lambda: fakes.TODAY,
        # leases of the probing limit form only at quotas of tens of thousands a day
        # (gcra_lease.attempt_lease_size): the bench's; at the default (50) every verify waits
        # for its charge, as the uncached test below does
        now=lambda: fakes.NOW, attempts=attempts, attempts_per_day=10**9,
    )  # fmt: skip
    claim = parse_claim({"id_number": HOT, "full_name": "Nguyễn Văn An", "gender": "male"})
    ctx = RequestContext(7, "r", "verify", fakes.NOW, key_id="k")

    async def verify(c: object = claim) -> None:
        if not charged_now(WHO, 1, rates):
            await rates.charge(WHO.key_id, Limit(10_000, 20_000), 1)
        await verify_audited([c], ctx, deps)  # type: ignore[list-item]

    for _ in range(4):  # warm: the person in L1, the key's and the person's leases bought
        await verify()
        await asyncio.sleep(0)
    await rates.aclose()
    await attempts.aclose()
    assert source.asked == [[HOT]]
    assert charged_now(WHO, 1, rates)  # the rate limit: a leased token, no await
    waits, answers = await run(verify_audited([claim], ctx, deps))
    assert waits == 0, "a cached verify of a leased person waited for a tick"
    assert [a.verdict for a in answers] == [Verdict.MATCH]
    assert audit.rows[-1].verdict == "match"  # audited all the same
    # a person not in L1 (nor leased) waits for its lookup and its charge: the awaits stay
    cold = parse_claim({"id_number": COLD, "gender": "male"})
    waits, answers = await run(verify_audited([cold], ctx, deps))
    assert waits >= 2  # its lookup, then its charge at "Redis"
    assert [a.verdict for a in answers] == [Verdict.MATCH]
    await register.aclose()
    await batcher.aclose()
