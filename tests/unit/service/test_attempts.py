"""The probing limit's refusals: a wait when waiting helps, none when it cannot."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from verify.domain.gcra import Decision, Quota, decide
from verify.errors import AttemptsExceedQuota, TooManyAttempts
from verify.service.attempts import charge_attempts

ANNA, BINH, CHI = "001203012345", "001190000099", "001190000123"


class GcraAttempts:
    """The port by the domain's rule, in memory, on a clock the test moves."""

    def __init__(self) -> None:
        self.now_us = 0
        self.tat: dict[tuple[int, str], int] = {}
        self.asked: list[dict[str, int]] = []

    async def spend(
        self, agency_id: int, costs: Mapping[str, int], quota: Quota
    ) -> dict[str, Decision]:
        self.asked.append(dict(costs))
        out = {}
        for person, cost in costs.items():
            d = decide(self.tat.get((agency_id, person)), self.now_us, quota, cost, strict=True)
            if d.allowed:
                self.tat[agency_id, person] = d.tat_us
            out[person] = d
        return out


async def test_a_refusal_names_the_wait_after_which_it_passes() -> None:
    limiter = GcraAttempts()
    assert await charge_attempts(1, [ANNA] * 50, limiter, 50) == [None] * 50
    [refused] = await charge_attempts(1, [ANNA], limiter, 50)
    assert type(refused) is TooManyAttempts and refused.retry_after == pytest.approx(1728)
    limiter.now_us += 1728 * 1_000_000
    assert await charge_attempts(1, [ANNA], limiter, 50) == [None]


async def test_more_attempts_on_one_person_than_a_day_allows_get_no_wait() -> None:
    """51 attempts on one person in one batch, 50 a day: no wait ever lets them through, so
    the refusal must not say 'retry after' (it said about half an hour, then refused again).
    The other person's attempts in the same batch are charged as usual."""
    limiter = GcraAttempts()
    out = await charge_attempts(1, [ANNA] * 51 + [BINH] * 2, limiter, 50)
    never = out[:51]
    assert all(type(r) is AttemptsExceedQuota for r in never)
    assert all(r is not None and r.retry_after is None for r in never)
    assert never[0] is not None and never[0].code == "attempts_exceed_quota"
    assert "51" in never[0].detail and "at most 50" in never[0].detail
    assert out[51:] == [None, None]
    assert limiter.asked == [{BINH: 2}]  # nothing charged for ANNA: the limiter not asked
    assert await charge_attempts(1, [ANNA] * 50, limiter, 50) == [None] * 50


async def test_a_request_all_over_the_quota_asks_the_limiter_nothing() -> None:
    limiter = GcraAttempts()
    out = await charge_attempts(1, [ANNA] * 3, limiter, 2)
    assert all(isinstance(r, AttemptsExceedQuota) for r in out) and limiter.asked == []


class _SaysNever:
    """A limiter deciding by the domain's rule may itself say that no wait helps."""

    async def spend(
        self, agency_id: int, costs: Mapping[str, int], quota: Quota
    ) -> dict[str, Decision]:
        return {person: Decision(False, 0, 0, ever=False) for person in costs}


async def test_a_limiters_never_is_not_turned_into_a_wait() -> None:
    [refused] = await charge_attempts(1, [ANNA], _SaysNever(), 50)
    assert isinstance(refused, AttemptsExceedQuota) and refused.retry_after is None


async def test_a_single_attempt_under_a_quota_of_none_is_never_allowed_nor_charged() -> None:
    limiter = GcraAttempts()
    [refused] = await charge_attempts(1, [ANNA], limiter, 0)
    assert type(refused) is AttemptsExceedQuota and limiter.asked == []


async def test_a_single_attempt_is_charged_as_one_attempt_on_its_person() -> None:
    limiter = GcraAttempts()
    assert await charge_attempts(3, [ANNA], limiter, 2) == [None]
    assert await charge_attempts(3, [ANNA], limiter, 2) == [None]
    [refused] = await charge_attempts(3, [ANNA], limiter, 2)
    assert type(refused) is TooManyAttempts and refused.retry_after == pytest.approx(43_200)
    assert limiter.asked == [{ANNA: 1}] * 3


async def test_a_batch_of_distinct_people_is_refused_only_for_the_spent_one() -> None:
    """The usual batch (every person once): charged as one attempt each, in one call; the
    person whose day is spent gets the refusal with its wait, in place."""
    limiter = GcraAttempts()
    assert await charge_attempts(1, [ANNA, BINH], limiter, 1) == [None, None]
    limiter.now_us += 43_200 * 1_000_000  # half a day: neither has an attempt back
    out = await charge_attempts(1, [ANNA, CHI], limiter, 1)
    assert type(out[0]) is TooManyAttempts and out[0].retry_after == pytest.approx(43_200)
    assert out[1] is None
    assert limiter.asked == [{ANNA: 1, BINH: 1}, {ANNA: 1, CHI: 1}]


async def test_a_batch_of_distinct_people_under_a_quota_of_none_asks_nothing() -> None:
    limiter = GcraAttempts()
    out = await charge_attempts(1, [ANNA, BINH], limiter, 0)
    assert all(type(r) is AttemptsExceedQuota for r in out) and limiter.asked == []


async def test_no_claims_ask_the_limiter_nothing() -> None:
    limiter = GcraAttempts()
    assert await charge_attempts(1, [], limiter, 50) == [] and limiter.asked == []
