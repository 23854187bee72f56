"""Rate-limit and probing-limit token leases against an in-memory Redis script and a clock
of the test's: sizes, the over-admission bound, expiry, refill ahead of need, refusals and
fallback."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.unit.gcra_fakes import FakeBreaker, FakeRedis
from verify.adapters.attempts import RedisAttemptLimiter
from verify.adapters.gcra_batch import ChargeBatcher
from verify.adapters.gcra_lease import (
    LeasedAttemptLimiter,
    LeasedRateLimiter,
    attempt_lease_size,
    lease_size,
)
from verify.adapters.ratelimit import RateLimiter
from verify.domain.gcra import Limit, Quota

TTL = 1.0
BIG = Limit(rate_per_s=100, burst=1000)  # lease size min(100, 1000 // 10) = 100
KEY = "t:rl:v1:k"


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


class Rig:
    """One process's limiter: leases in front of the per-request path, on a shared Redis."""

    def __init__(
        self,
        redis: FakeRedis,
        clock: Clock,
        *,
        max_tokens: int = 100,
        breaker: FakeBreaker | None = None,
    ) -> None:
        self.breaker = breaker or FakeBreaker()
        self.batcher = ChargeBatcher(redis, breaker=self.breaker, deadline_s=1.0)
        self.fallbacks: list[int] = []
        self.exact = RateLimiter(
            self.batcher, prefix="t", on_fallback=lambda n: self.fallbacks.append(1)
        )
        self.limiter = LeasedRateLimiter(
            self.exact, self.batcher, max_tokens=max_tokens, ttl_s=TTL, clock=clock
        )

    async def settle(self) -> None:
        """Let the background leases land (the fake answers at once)."""
        for _ in range(5):
            await asyncio.sleep(0)
        await self.limiter.aclose()


def rig(max_tokens: int = 100) -> tuple[FakeRedis, Clock, Rig]:
    clock = Clock()
    redis = FakeRedis(clock)
    return redis, clock, Rig(redis, clock, max_tokens=max_tokens)


def test_lease_size_is_a_tenth_of_the_burst_capped_and_none_for_small_keys() -> None:
    assert lease_size(Limit(1, 10), 100) == 0  # burst 10: per request, exactly as before
    assert lease_size(Limit(10, 19), 100) == 0
    assert lease_size(Limit(10, 20), 100) == 2
    assert lease_size(Limit(100, 1000), 100) == 100
    assert lease_size(Limit(10**7, 2 * 10**7), 100) == 100
    assert lease_size(Limit(10**7, 2 * 10**7), 0) == 0  # VERIFY_RATE_LEASE_MAX=0: off


async def test_a_small_key_is_charged_per_request_exactly() -> None:
    redis, _, r = rig()
    small = Limit(rate_per_s=1, burst=10)
    decisions = [await r.limiter.check("k", small, 1) for _ in range(12)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False] * 2
    assert decisions[-1].retry_after_us == 1_000_000
    assert len(redis.calls) == 12 and all(not c.strict and c.cost == 1 for c in redis.charges)


async def test_a_busy_key_spends_leased_tokens_and_refills_ahead() -> None:
    redis, _, r = rig()
    busy = Limit(rate_per_s=1_000, burst=10_000)  # room for all: the clock stands still
    waited: list[int] = []  # the requests charged on their own
    for n in range(1_000):
        before = len(redis.charges)
        assert (await r.limiter.check("k", busy, 1)).allowed
        if any(not c.strict for c in redis.charges[before:]):
            waited.append(n)
        await asyncio.sleep(0)  # a tick between requests: a lease in flight lands
        assert r.limiter.held("k") <= 100
    await r.settle()
    # only the first requests (while the lease grows with the demand) go to Redis on their own
    assert waited and max(waited) < 50 and len(waited) <= 10, waited
    leases = [c for c in redis.charges if c.strict]
    assert all(c.cost <= 100 for c in leases) and len(leases) < 40
    # every token spent was charged in Redis first; what is held is the difference
    assert redis.granted[KEY] - 1_000 == r.limiter.held("k") <= 100


async def test_two_processes_exceed_the_limit_by_at_most_a_lease_each() -> None:
    clock = Clock()
    redis = FakeRedis(clock)
    limit = Limit(rate_per_s=100, burst=200)  # lease size 20
    size = lease_size(limit, 100)
    procs = [Rig(redis, clock), Rig(redis, clock)]
    rng = random.Random(7)
    admitted: list[float] = []  # times of the requests admitted, by any process
    start = clock.t
    for _ in range(6_000):
        clock.t += rng.choice([0.0, 0.0, 0.001, 0.003, 0.02])
        proc = rng.choice(procs)
        if (await proc.limiter.check("k", limit, 1)).allowed:
            admitted.append(clock.t)
        if rng.random() < 0.5:
            await asyncio.sleep(0)
        assert all(p.limiter.held("k") <= size for p in procs)
    for p in procs:
        await p.settle()
    assert len(admitted) > 1_000  # the key was kept busy at its limit
    leased = sum(c.cost for c in redis.allowed if c.strict)
    # leases were held (at the limit most are refused: requests then go one by one)
    assert leased > 100, leased
    # any window: at most burst + rate x its length + one lease per process (GCRA's own
    # bound is burst + rate x length; the window ends at its last admission)
    for i in range(0, len(admitted), 50):
        t0 = admitted[i]
        for j in range(i, len(admitted), 97):
            count = j - i + 1
            allowed = limit.burst + limit.rate_per_s * (admitted[j] - t0) + 1
            assert count <= allowed + len(procs) * size
    total = admitted[-1] - start
    assert len(admitted) <= limit.burst + limit.rate_per_s * total + 1 + len(procs) * size


async def test_a_lease_expires_and_its_tokens_are_dropped() -> None:
    redis, clock, r = rig()
    for _ in range(10):
        await r.limiter.check("k", BIG, 1)
        await asyncio.sleep(0)
    await r.settle()
    assert r.limiter.held("k") > 0
    clock.t += TTL
    assert r.limiter.held("k") == 0
    before = len(redis.charges)
    assert (await r.limiter.check("k", BIG, 1)).allowed
    assert redis.charges[before].strict is False  # charged on its own


async def test_tokens_expired_while_a_refill_was_in_flight_stay_dropped() -> None:
    redis, clock, r = rig()
    for _ in range(60):  # spend into the lease until a refill is asked for
        await r.limiter.check("k", BIG, 1)
        await asyncio.sleep(0)
    await r.settle()
    redis.gate = asyncio.Event()  # the next lease waits in "Redis"
    sent = len(redis.charges)
    while not any(c.strict for c in redis.charges[sent:]):
        assert r.limiter.held("k") > 0
        await r.limiter.check("k", BIG, 1)
        await asyncio.sleep(0)
    left = r.limiter.held("k")
    assert left > 0
    clock.t += TTL  # the held tokens expire while the refill is on its way
    assert r.limiter.held("k") == 0
    asked = redis.charges[-1].cost
    redis.gate.set()
    await r.settle()
    # the refill brings only what it bought, with a fresh expiry; the expired ones stay gone
    assert r.limiter.held("k") == asked


async def test_light_use_takes_no_lease() -> None:
    redis, clock, r = rig()
    for _ in range(5):
        clock.t += TTL  # one request a TTL: the demand of a window is one token
        assert (await r.limiter.check("k", BIG, 1)).allowed
        await r.settle()
    assert not any(c.strict for c in redis.charges)


async def test_near_the_limit_a_refused_lease_leaves_requests_precise() -> None:
    clock = Clock()
    redis = FakeRedis(clock)
    limit = Limit(rate_per_s=10, burst=40)  # lease size 4
    r = Rig(redis, clock)
    other = Rig(redis, clock)  # another process has spent the bucket down to 3 tokens
    for _ in range(37):
        assert (await other.exact.check("k", limit, 1)).allowed
    decisions = []
    for _ in range(5):
        decisions.append(await r.limiter.check("k", limit, 1))
        await asyncio.sleep(0)
    await r.settle()
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert 0 < decisions[-1].retry_after_us <= 100_000
    refused_leases = [c for c in redis.charges if c.strict]
    assert refused_leases and redis.granted["t:rl:v1:k"] == 40  # no lease was granted
    assert r.limiter.held("k") == 0


async def test_when_redis_fails_requests_fall_back_as_before() -> None:
    redis, _, r = rig()
    redis.error = ConnectionError("gone")
    decisions = []
    for _ in range(5):
        decisions.append(await r.limiter.check("k", Limit(rate_per_s=1, burst=30), 1))
        await asyncio.sleep(0)
    await r.settle()
    assert all(d.allowed for d in decisions)
    assert len(r.fallbacks) == 5  # each decided by the local limiter, as without leases
    assert r.limiter.held("k") == 0
    assert "failure" in r.breaker.events


async def test_an_open_breaker_sends_no_lease() -> None:
    clock = Clock()
    redis = FakeRedis(clock)
    r = Rig(redis, clock, breaker=FakeBreaker(open_=True))
    for _ in range(50):
        assert (await r.limiter.check("k", BIG, 1)).allowed
        await asyncio.sleep(0)
    await r.settle()
    assert redis.calls == [] and len(r.fallbacks) == 50


async def test_a_changed_limit_drops_the_lease() -> None:
    redis, _, r = rig()
    for _ in range(20):
        await r.limiter.check("k", BIG, 1)
        await asyncio.sleep(0)
    await r.settle()
    assert r.limiter.held("k") > 0
    lower = Limit(rate_per_s=1, burst=10)
    before = len(redis.charges)
    await r.limiter.check("k", lower, 1)
    assert r.limiter.held("k") == 0 and redis.charges[before].rule == lower


@pytest.mark.parametrize("cost", [2, 150])
async def test_a_cost_above_the_held_tokens_goes_to_redis(cost: int) -> None:
    redis, _, r = rig()
    for _ in range(20):
        await r.limiter.check("k", BIG, 1)
        await asyncio.sleep(0)
    await r.settle()
    held = r.limiter.held("k")
    before = len(redis.charges)
    assert (await r.limiter.check("k", BIG, cost)).allowed
    sent = [c.cost for c in redis.charges[before:] if not c.strict]
    assert sent == ([] if cost <= held else [cost])


# The probing limit's leases: one (agency, person) bucket per lease, the same bound


PERSON = "001090000001"
DEFAULT = Quota(50, 86_400)  # the default: 50 attempts a rolling day: no lease at all
# 50 attempts a second: a bucket that refills 50 in a TTL (1 s here), so leases of 5 form;
# the tests below are about the leases' bound, on a quota that has them
DAY = Quota(50, 1)


class AttemptRig:
    def __init__(
        self, redis: FakeRedis, clock: Clock, *, max_tokens: int = 1000, ttl_s: float = TTL
    ) -> None:
        self.batcher = ChargeBatcher(redis, breaker=FakeBreaker(), deadline_s=1.0)
        self.exact = RedisAttemptLimiter(self.batcher, prefix="t", hmac_key=b"k" * 32)
        self.limiter = LeasedAttemptLimiter(
            self.exact, self.batcher, max_tokens=max_tokens, ttl_s=ttl_s, clock=clock
        )

    async def one(self, agency: int = 1, person: str = PERSON) -> bool:
        return (await self.limiter.spend(agency, {person: 1}, DAY))[person].allowed

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        await self.limiter.aclose()


def test_an_attempt_lease_loses_at_most_a_tenth_of_what_its_bucket_refills() -> None:
    # a lease expires at most once a TTL: at most a tenth of a TTL's refill, so expired
    # leases cost a process at most a tenth of the quota
    assert attempt_lease_size(DEFAULT, 1000, 30.0) == 0  # the default: exact, per request
    assert attempt_lease_size(Quota(28_800, 86_400), 1000, 30.0) == 0  # refills 10 a TTL
    assert attempt_lease_size(Quota(57_600, 86_400), 1000, 30.0) == 2  # refills 20 a TTL
    assert attempt_lease_size(Quota(10**9, 86_400), 1000, 30.0) == 1000  # the bench's
    assert attempt_lease_size(Quota(10**9, 86_400), 0, 30.0) == 0  # VERIFY_ATTEMPT_LEASE_MAX=0
    assert attempt_lease_size(DAY, 1000, TTL) == lease_size(DAY, 1000) == 5


async def test_at_the_default_quota_a_person_verified_often_holds_no_lease() -> None:
    # the review's case: a bank re-checking a customer twice within the TTL, again and
    # again, must not burn attempts in leases that expire unspent
    clock = Clock()
    redis = FakeRedis(clock)
    r = AttemptRig(redis, clock, ttl_s=30.0)
    allowed = 0
    for _ in range(25):
        for _ in range(2):
            allowed += (await r.limiter.spend(1, {PERSON: 1}, DEFAULT))[PERSON].allowed
            await asyncio.sleep(0)
            assert r.limiter.held(1, PERSON) == 0
        clock.t += 31.0
    await r.settle()
    assert allowed == 50 and all(c.cost == 1 for c in redis.charges)


async def test_a_person_verified_once_a_ttl_is_charged_per_request() -> None:
    clock = Clock()
    redis = FakeRedis(clock)
    r = AttemptRig(redis, clock)
    for _ in range(5):
        clock.t += TTL
        assert await r.one()
        await r.settle()
    assert len(redis.charges) == 5 and not any(c.strict and c.cost > 1 for c in redis.charges)


async def test_a_busy_person_spends_leased_attempts_and_never_more_than_the_quota() -> None:
    clock = Clock()
    redis = FakeRedis(clock)
    r = AttemptRig(redis, clock)
    answers = []
    for _ in range(60):
        answers.append(await r.one())
        await asyncio.sleep(0)  # a tick between verifies: a lease in flight lands
        assert r.limiter.held(1, PERSON) <= lease_size(DAY, 1000) == 5
    await r.settle()
    assert answers == [True] * 50 + [False] * 10  # exact in one process, leases or not
    leases = [c for c in redis.allowed if c.cost > 1]
    assert leases, "a busy person held no lease"
    [key] = redis.granted
    assert redis.granted[key] == 50 and PERSON not in key  # every attempt charged in Redis


async def test_attempt_leases_across_processes_stay_within_a_lease_each() -> None:
    clock = Clock()
    redis = FakeRedis(clock)
    procs = [AttemptRig(redis, clock), AttemptRig(redis, clock)]
    rng = random.Random(3)
    admitted = 0
    start = clock.t
    for _ in range(400):
        clock.t += rng.choice([0.0, 0.00001, 0.0001])
        admitted += await rng.choice(procs).one()
        if rng.random() < 0.5:
            await asyncio.sleep(0)
    for p in procs:
        await p.settle()
    # the quota and what the bucket regained meanwhile (50 a second), never more: each
    # attempt spent was charged in Redis first
    regained = int((clock.t - start) * DAY.count / DAY.period_s) + 1
    assert regained <= 3
    assert admitted <= 50 + regained
    assert admitted + sum(p.limiter.held(1, PERSON) for p in procs) <= 50 + regained


async def test_batches_and_other_agencies_are_charged_per_request() -> None:
    clock = Clock()
    redis = FakeRedis(clock)
    r = AttemptRig(redis, clock)
    for _ in range(10):
        assert await r.one()
        await asyncio.sleep(0)
    await r.settle()
    assert r.limiter.held(1, PERSON) > 0 and r.limiter.held(2, PERSON) == 0
    before = len(redis.charges)
    decisions = await r.limiter.spend(1, {PERSON: 2, "001090000002": 1}, DAY)
    assert all(d.allowed for d in decisions.values())
    assert [c.cost for c in redis.charges[before:]] == [2, 1]  # a batch: at Redis, strict


async def test_attempt_leases_off_charge_every_verify() -> None:
    clock = Clock()
    redis = FakeRedis(clock)
    r = AttemptRig(redis, clock, max_tokens=0)  # VERIFY_ATTEMPT_LEASE_MAX=0
    for _ in range(20):
        assert await r.one()
        await asyncio.sleep(0)
    await r.settle()
    assert len(redis.charges) == 20 and all(c.cost == 1 for c in redis.charges)
