"""The per-tick coalescing of GCRA charges, against an in-memory Redis-like callable."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.gcra_fakes import FakeBreaker, FakeRedis
from verify.adapters.attempts import RedisAttemptLimiter
from verify.adapters.gcra_batch import ALLOWED, Buckets, Charge, ChargeBatcher
from verify.adapters.gcra_local import LocalLimiter
from verify.adapters.ratelimit import RateLimiter
from verify.domain.gcra import Decision, Limit, Quota

ONE = Limit(rate_per_s=10, burst=1)  # one unit, then 100 ms per unit
TWO = Limit(rate_per_s=10, burst=2)


def batcher(
    redis: FakeRedis, breaker: FakeBreaker, *, deadline_s: float = 1.0, max_batch: int = 1000
) -> ChargeBatcher:
    return ChargeBatcher(redis, breaker=breaker, deadline_s=deadline_s, max_batch=max_batch)


def charge(key: str, cost: int = 1, rule: Limit = ONE) -> Charge:
    return Charge(key, rule, cost, False)


async def test_the_callers_of_one_tick_make_one_call_in_order() -> None:
    redis, breaker = FakeRedis(), FakeBreaker()
    b = batcher(redis, breaker)
    answers = await asyncio.gather(
        b.charge([charge("a")]), b.charge([charge("b"), charge("c")]), b.charge([charge("d")])
    )
    assert redis.calls == [["a", "b", "c", "d"]]
    assert [[r is not None and r.allowed for r in rs] for rs in answers] == [
        [True],
        [True, True],
        [True],
    ]
    assert breaker.events == ["success"]
    await b.charge([charge("a")])  # a later tick: a call of its own
    assert redis.calls[1:] == [["a"]]


async def test_two_charges_on_one_key_in_a_batch_see_each_other() -> None:
    redis = FakeRedis()
    b = batcher(redis, FakeBreaker())
    first, second, third = await asyncio.gather(
        b.charge([charge("k")]), b.charge([charge("k")]), b.charge([charge("k", rule=TWO)])
    )
    assert len(redis.calls) == 1
    assert first[0] == Decision(True, 0, 0)
    assert second[0] == Decision(False, 0, 100_000)  # the first took the only unit
    # TWO has room for one more unit than ONE: the third sees both earlier charges' TAT
    assert third[0] == Decision(True, 0, 0)


async def test_a_failed_call_leaves_every_caller_to_its_local_limiter() -> None:
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.error = ConnectionError("gone")
    b = batcher(redis, breaker)
    fallbacks: list[str] = []
    one = RateLimiter(b, prefix="t", on_fallback=lambda n: fallbacks.append("rate"))
    two = RedisAttemptLimiter(
        b, prefix="t", hmac_key=b"k" * 32, on_fallback=lambda n: fallbacks.append("attempts")
    )
    quota = Quota(2, 86_400)
    rate, spent = await asyncio.gather(
        one.check("key", ONE, 1), two.spend(1, {"001090000001": 3, "001090000002": 1}, quota)
    )
    assert len(redis.calls) == 1 and breaker.events == ["failure"]  # once per batch
    assert sorted(fallbacks) == ["attempts", "rate"]
    assert rate.allowed
    assert not spent["001090000001"].allowed  # strict locally too: 3 never fit in 2
    assert spent["001090000002"].allowed
    assert not (await one.check("key", ONE, 1)).allowed  # the local bucket holds the state


async def test_an_open_breaker_sends_nothing() -> None:
    redis, breaker = FakeRedis(), FakeBreaker(open_=True)
    buckets = Buckets(batcher(redis, breaker), local=LocalLimiter())
    decisions = await buckets.charge([charge("a"), charge("a")])
    assert redis.calls == [] and breaker.events == []
    assert [d.allowed for d in decisions] == [True, False]


async def test_a_stalled_redis_costs_one_deadline_then_local() -> None:
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.gate = asyncio.Event()  # never set
    b = batcher(redis, breaker, deadline_s=0.05)
    fallbacks: list[int] = []
    buckets = Buckets(b, local=LocalLimiter(), on_fallback=fallbacks.append)
    answers = await asyncio.gather(*(buckets.charge([charge(f"k{i}")]) for i in range(3)))
    assert all(d.allowed for [d] in answers)
    assert breaker.events == ["failure"] and fallbacks == [1, 1, 1]


@pytest.mark.parametrize("reply", [[0], [1, 100], [-1, 100]])
async def test_a_malformed_answer_counts_as_a_failure(reply: list[int]) -> None:
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.malformed = reply  # odd length, or an index outside the batch
    assert await batcher(redis, breaker).charge([charge("a")]) == [None]
    assert breaker.events == ["failure"]


async def test_a_caller_giving_up_does_not_cancel_the_batch_for_the_others() -> None:
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.gate = asyncio.Event()
    b = batcher(redis, breaker)
    quitter = asyncio.create_task(b.charge([charge("a")]))
    stayer = asyncio.create_task(b.charge([charge("b")]))
    await redis.called.wait()
    quitter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quitter
    redis.gate.set()
    [decision] = await stayer
    assert decision is not None and decision.allowed
    assert redis.calls == [["a", "b"]] and breaker.events == ["success"]
    assert "a" in redis.tat  # the quitter's charge was made all the same


async def test_a_batch_above_the_cap_is_split_in_order() -> None:
    redis = FakeRedis()
    b = batcher(redis, FakeBreaker(), max_batch=2)
    first, second = await asyncio.gather(
        b.charge([charge("a"), charge("b"), charge("a")]), b.charge([charge("c"), charge("d")])
    )
    assert redis.calls == [["a", "b"], ["a", "c"], ["d"]]
    assert [d is not None and d.allowed for d in first] == [True, True, False]
    assert [d is not None and d.allowed for d in second] == [True, True]


async def test_no_charge_no_call() -> None:
    redis = FakeRedis()
    assert await batcher(redis, FakeBreaker()).charge([]) == []
    assert redis.calls == []


async def test_close_waits_for_the_batch_in_flight() -> None:
    redis = FakeRedis()
    redis.gate = asyncio.Event()
    b = batcher(redis, FakeBreaker())
    caller = asyncio.create_task(b.charge([charge("a")]))
    await asyncio.sleep(0)
    closing = asyncio.create_task(b.aclose())
    await asyncio.sleep(0)
    assert not closing.done()
    redis.gate.set()
    await closing
    assert caller.done() and (await caller)[0] is not None


async def test_without_redis_the_limiters_are_local() -> None:
    fallbacks: list[int] = []
    limiter = RateLimiter(None, prefix="t", on_fallback=lambda n: fallbacks.append(1))
    assert (await limiter.check("k", ONE, 1)).allowed
    assert not (await limiter.check("k", ONE, 1)).allowed
    assert fallbacks == [1, 1]


async def test_charges_made_during_a_round_trip_share_the_next_one() -> None:
    """One round trip in flight at a time: the ticks it spans go together once it is back."""
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.gate = asyncio.Event()
    b = batcher(redis, breaker)
    first = asyncio.create_task(b.charge_one(charge("a")))
    await redis.called.wait()  # in flight
    second = asyncio.create_task(b.charge_one(charge("b")))
    await asyncio.sleep(0)
    third = asyncio.create_task(b.charge([charge("c"), charge("a")]))
    await asyncio.sleep(0)
    assert redis.calls == [["a"]]
    redis.gate.set()
    one, two, three = await asyncio.gather(first, second, third)
    assert redis.calls == [["a"], ["b", "c", "a"]]
    assert one == two == ALLOWED
    assert [d is not None and d.allowed for d in three] == [True, False]  # "a" saw the first
    assert breaker.events == ["success", "success"]


async def test_a_charge_behind_a_stalled_round_trip_waits_one_deadline_from_its_own_start() -> None:
    """Its deadline runs from when it was made, not from when its round trip could start:
    behind a stalled Redis a caller waits one deadline, not two."""
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.gate = asyncio.Event()  # never set
    deadline = 0.4
    b = batcher(redis, breaker, deadline_s=deadline)
    loop = asyncio.get_running_loop()
    first = asyncio.create_task(b.charge_one(charge("a")))
    await redis.called.wait()
    start = loop.time()
    assert await b.charge_one(charge("b")) is None  # Redis did not decide: local
    waited = loop.time() - start
    assert waited < 1.5 * deadline  # two deadlines (0.8 s) before
    assert await first is None and breaker.events[0] == "failure"
    assert set(breaker.events) == {"failure"}  # the second is sent with what is left, or not


async def test_a_cancelled_pump_leaves_every_waiting_caller_to_local() -> None:
    redis = FakeRedis()
    redis.gate = asyncio.Event()
    b = batcher(redis, FakeBreaker())
    first = asyncio.create_task(b.charge_one(charge("a")))
    await redis.called.wait()
    queued = asyncio.create_task(b.charge([charge("b")]))
    await asyncio.sleep(0)
    pump = b._pump
    assert pump is not None
    pump.cancel()  # as the loop's shutdown does
    assert await first is None and await queued == [None]
    redis.gate.set()
    assert await b.charge_one(charge("c")) == ALLOWED  # a new pump for the next batch


async def test_a_batch_whose_deadline_was_spent_waiting_is_not_sent() -> None:
    redis, breaker = FakeRedis(), FakeBreaker()
    b = batcher(redis, breaker)
    spent = asyncio.get_running_loop().time() - 0.001
    assert await b._decide([charge("a")], spent) == [None]
    assert redis.calls == [] and breaker.events == []  # the stalled call before it told


async def _open_gate_after(redis: FakeRedis, seconds: float) -> None:
    await asyncio.sleep(seconds)
    assert redis.gate is not None
    redis.gate.set()


async def test_bulk_charges_wait_for_redis_past_a_single_charges_deadline() -> None:
    """A process busy with bulk work may read a reply later than a verify's deadline: the
    bulk charges keep waiting (up to their own) and Redis decides them, not this process."""
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.gate = asyncio.Event()
    b = ChargeBatcher(redis, breaker=breaker, deadline_s=0.05, bulk_deadline_s=1.0)
    opener = asyncio.create_task(_open_gate_after(redis, 0.15))
    replies = await b.charge([charge("a"), charge("b")])
    await opener
    assert replies == [ALLOWED, ALLOWED] and breaker.events == ["success"]


async def test_a_single_charge_in_a_bulk_batch_is_answered_at_its_own_deadline() -> None:
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.gate = asyncio.Event()
    b = ChargeBatcher(redis, breaker=breaker, deadline_s=0.05, bulk_deadline_s=1.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    bulk = asyncio.ensure_future(b.charge([charge("a"), charge("b")]))
    await asyncio.sleep(0)  # the bulk charges open the batch; the pump sends it next tick
    single = b.enqueue_one(charge("one"))
    opener = asyncio.create_task(_open_gate_after(redis, 0.3))
    assert await single is None  # Redis did not decide it in its 50 ms: local
    assert loop.time() - started < 0.25
    assert not bulk.done()
    assert await bulk == [ALLOWED, ALLOWED]
    await opener
    # the single charge went apart, under its own deadline (it timed out: Redis stalled)
    assert redis.calls == [["one"], ["a", "b"]] and breaker.events == ["failure", "success"]


async def test_a_bulk_batch_past_its_own_deadline_goes_local() -> None:
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.gate = asyncio.Event()  # never set
    b = ChargeBatcher(redis, breaker=breaker, deadline_s=0.02, bulk_deadline_s=0.08)
    assert await b.charge([charge("a"), charge("b")]) == [None, None]
    assert breaker.events == ["failure"]


async def test_buckets_count_each_charge_decided_locally() -> None:
    redis, breaker = FakeRedis(), FakeBreaker(open_=True)  # Redis not asked: all local
    counted: list[int] = []
    buckets = Buckets(batcher(redis, breaker), local=LocalLimiter(), on_fallback=counted.append)
    await buckets.charge([charge("a"), charge("b"), charge("c")])
    await buckets.charge_one(charge("d"))
    assert counted == [3, 1] and redis.calls == []


async def test_a_single_charge_behind_a_bulk_round_trip_is_answered_at_its_own_deadline() -> None:
    """One round trip in flight: a verify's charge gathered while a bulk one is out waits
    its own deadline, not the bulk one's; answered locally, it is never sent to Redis."""
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.gate = asyncio.Event()
    b = ChargeBatcher(redis, breaker=breaker, deadline_s=0.05, bulk_deadline_s=1.0)
    loop = asyncio.get_running_loop()
    bulk = asyncio.ensure_future(b.charge([charge("a"), charge("b")]))
    await redis.called.wait()  # the bulk round trip is out (and stalled)
    started = loop.time()
    assert await b.enqueue_one(charge("one")) is None
    assert loop.time() - started < 0.25, "the verify waited for the bulk round trip"
    later = asyncio.ensure_future(b.charge([charge("c"), charge("d")]))
    await asyncio.sleep(0)  # it joins the batch waiting behind the stalled one
    redis.gate.set()
    assert await bulk == [ALLOWED, ALLOWED] and await later == [ALLOWED, ALLOWED]
    assert redis.calls == [["a", "b"], ["c", "d"]], "a charge decided locally was sent"


async def test_single_charges_within_their_deadline_still_go_in_a_late_bulk_batch() -> None:
    redis, breaker = FakeRedis(), FakeBreaker()
    b = ChargeBatcher(redis, breaker=breaker, deadline_s=0.5, bulk_deadline_s=1.0)
    single = b.enqueue_one(charge("one"))
    both = await b.charge([charge("a"), charge("b")])
    assert await single == ALLOWED and both == [ALLOWED, ALLOWED]
    assert redis.calls == [["one"], ["a", "b"]]  # two sends at once, each its own deadline


async def test_singles_waiting_behind_a_bulk_round_trip_are_not_sent_once_answered() -> None:
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.gate = asyncio.Event()
    b = ChargeBatcher(redis, breaker=breaker, deadline_s=0.05, bulk_deadline_s=1.0)
    loop = asyncio.get_running_loop()
    bulk = asyncio.ensure_future(b.charge([charge("a"), charge("b")]))
    await redis.called.wait()
    first, second = b.enqueue_one(charge("x")), b.enqueue_one(charge("y"))
    assert await first is None and await second is None  # at their deadline
    started = loop.time()
    assert await b.enqueue_one(charge("late")) is None  # past it already: at once
    assert loop.time() - started < 0.04  # its future was answered before it was returned
    redis.gate.set()
    assert await bulk == [ALLOWED, ALLOWED]
    assert await b.enqueue_one(charge("z")) == ALLOWED  # sent after the batch behind "a, b"
    assert redis.calls == [["a", "b"], ["z"]], "a charge answered locally was also sent"


async def test_behind_a_single_round_trip_a_single_charge_needs_no_timer() -> None:
    """The round trip in flight holds single charges only: its deadline comes before the
    next batch's, which is then sent or answered by its own deadline; no timer is set."""
    redis, breaker = FakeRedis(), FakeBreaker()
    redis.gate = asyncio.Event()
    b = ChargeBatcher(redis, breaker=breaker, deadline_s=0.05, bulk_deadline_s=1.0)
    loop = asyncio.get_running_loop()
    first = b.enqueue_one(charge("a"))
    await redis.called.wait()
    second = b.enqueue_one(charge("b"))
    assert b._expiry is None  # the point of the test
    started = loop.time()
    assert await first is None and await second is None
    assert loop.time() - started < 0.2  # not a bulk deadline (1 s)
    redis.gate.set()
