from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from verify.domain.gcra import MICROS, Limit, Quota, decide

LIMIT = Limit(rate_per_s=10, burst=5)


def test_burst_then_refused_with_retry_after() -> None:
    tat = None
    for _ in range(5):
        d = decide(tat, 0, LIMIT, 1)
        assert d.allowed
        tat = d.tat_us
    refused = decide(tat, 0, LIMIT, 1)
    assert not refused.allowed and refused.retry_after_us == MICROS // 10
    assert decide(tat, refused.retry_after_us, LIMIT, 1).allowed


def test_batch_larger_than_burst_needs_a_full_bucket_and_pays_its_cost() -> None:
    d = decide(None, 0, LIMIT, 50)
    assert d.allowed and d.tat_us == 50 * MICROS // 10
    assert not decide(d.tat_us, 0, LIMIT, 1).allowed
    half_full = decide(None, 0, LIMIT, 1).tat_us
    assert not decide(half_full, 0, LIMIT, 50).allowed


@given(st.lists(st.tuples(st.integers(0, 200_000), st.integers(1, 3)), max_size=300))
def test_never_more_than_rate_times_time_plus_burst(steps: list[tuple[int, int]]) -> None:
    tat: int | None = None
    now = 0
    admitted = 0
    for gap, cost in steps:
        now += gap
        d = decide(tat, now, LIMIT, cost)
        if d.allowed:
            tat = d.tat_us
            admitted += cost
    assert admitted <= LIMIT.rate_per_s * now / MICROS + LIMIT.burst + 3


def test_a_strict_quota_needs_the_whole_cost() -> None:
    quota = Quota(50, 86_400)
    assert quota.interval_us == 86_400 * MICROS // 50
    assert not decide(None, 0, quota, 51, strict=True).allowed
    assert decide(None, 0, quota, 51).allowed  # the rate limit's rule: from a full bucket
    tat = decide(None, 0, quota, 49, strict=True).tat_us
    assert not decide(tat, 0, quota, 2, strict=True).allowed
    assert decide(tat, 0, quota, 1, strict=True).allowed


def test_a_strict_cost_above_the_burst_is_refused_without_a_wait() -> None:
    """Waiting cannot help a strict charge larger than the whole quota: its refusal must not
    name a wait (it said 'retry after 1.7 days', and then refused again)."""
    quota = Quota(50, 86_400)
    for tat in (None, 0, 10 * quota.interval_us):
        refused = decide(tat, 0, quota, 51, strict=True)
        assert (refused.allowed, refused.ever, refused.retry_after_us) == (False, False, 0)
    assert refused.tat_us == 10 * quota.interval_us  # the state is unchanged
    waited = decide(None, 0, quota, 1, strict=True).tat_us
    later = decide(waited, 10 * 86_400 * MICROS, quota, 51, strict=True)
    assert not later.allowed and not later.ever
    full = decide(None, 0, quota, 50, strict=True)
    assert full.allowed and full.ever  # the whole quota at once still fits
    busy = decide(full.tat_us, 0, quota, 1, strict=True)
    assert not busy.allowed and busy.ever and busy.retry_after_us == quota.interval_us


@given(st.integers(1, 100), st.integers(0, 10**12), st.integers(0, 10**12), st.integers(1, 300))
def test_a_refusal_that_names_a_wait_is_allowed_after_it(
    count: int, tat: int, now: int, cost: int
) -> None:
    quota = Quota(count, 86_400)
    refused = decide(tat, now, quota, cost, strict=True)
    if refused.allowed:
        return
    if not refused.ever:
        assert cost > count
        return
    after = now + refused.retry_after_us
    assert refused.retry_after_us > 0 and decide(tat, after, quota, cost, strict=True).allowed
