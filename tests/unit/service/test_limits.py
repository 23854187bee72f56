"""Charging and pacing against an in-memory limiter."""

from __future__ import annotations

import pytest

from tests.unit.service.fakes import FakeLimiter
from verify.domain.gcra import Limit
from verify.errors import RateLimited
from verify.service.auth import Principal
from verify.service.limits import charge, charge_rest, charged_now, limit_of, pace

LIMITED = Principal("k1", 1, "bank", frozenset({"verify"}), rate_per_s=10, burst=5)
UNLIMITED = Principal("k2", 1, "bank", frozenset({"verify"}))


async def test_a_key_without_a_rate_is_never_asked_about() -> None:
    limiter = FakeLimiter()
    await charge(UNLIMITED, 1000, limiter)
    assert limiter.asked == []


async def test_the_burst_then_a_refusal_with_the_wait() -> None:
    limiter = FakeLimiter()
    for _ in range(5):
        await charge(LIMITED, 1, limiter)
    with pytest.raises(RateLimited) as refused:
        await charge(LIMITED, 1, limiter)
    assert refused.value.retry_after == pytest.approx(0.1)
    limiter.now_us += 100_000
    await charge(LIMITED, 1, limiter)


async def test_a_batch_is_charged_its_item_count() -> None:
    limiter = FakeLimiter()
    await charge(LIMITED, 5, limiter)
    assert limiter.asked == [("k1", 5)]
    with pytest.raises(RateLimited):
        await charge(LIMITED, 1, limiter)


def test_the_default_burst_is_two_seconds_of_rate() -> None:
    limit = limit_of(Principal("k", 1, "a", frozenset(), rate_per_s=50))
    assert limit is not None and limit.burst == 100


def test_keys_of_one_rate_share_one_limit_object() -> None:
    """The leases find a key's limit unchanged by identity; a request allocates none."""
    one = limit_of(Principal("k", 1, "a", frozenset(), rate_per_s=50, burst=70))
    two = limit_of(Principal("j", 2, "b", frozenset(), rate_per_s=50, burst=70))
    other = limit_of(Principal("k", 1, "a", frozenset(), rate_per_s=50))
    assert one is two and one is not None and (one.rate_per_s, one.burst) == (50, 70)
    assert other is not None and other.burst == 100


async def test_a_pace_longer_than_allowed_is_refused() -> None:
    limiter = FakeLimiter()
    await charge(LIMITED, 5, limiter)
    with pytest.raises(RateLimited):
        await pace(LIMITED, 5, limiter, max_wait_s=0.1)


class HoldingLimiter(FakeLimiter):
    """A limiter holding ``held`` tokens in process (as a lease does)."""

    def __init__(self, held: int) -> None:
        super().__init__()
        self.held = held

    def take(self, key_id: str, limit: Limit, cost: int) -> bool:
        if cost > self.held:
            return False
        self.held -= cost
        return True


async def test_tokens_held_in_process_are_spent_first_then_the_bucket_decides() -> None:
    limiter = HoldingLimiter(2)
    assert charged_now(LIMITED, 1, limiter) and charged_now(LIMITED, 1, limiter)
    assert limiter.asked == []  # spent with no await and no charge
    assert not charged_now(LIMITED, 1, limiter)  # none left: nothing spent, the bucket decides
    await charge_rest(LIMITED, 1, limiter)
    assert limiter.asked == [("k1", 1)]
    assert charged_now(UNLIMITED, 10, limiter) and charged_now(LIMITED, 0, limiter)
