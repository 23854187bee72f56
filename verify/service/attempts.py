"""Use case: the probing limit, verify attempts per agency and person over a rolling day.

Per-field answers could otherwise be used to guess a birth date (about 466
attempts: 100 years, then 366 days). Each agency may make ``per_day`` attempts
on one person at once, and regains one every ``86400 / per_day`` seconds (GCRA
with a day's period): with the default 50, such a search takes over a week.
Attempts are counted on the ID number as the caller wrote it (a former 9-digit
number is a subject of its own: a refusal that depended on the register would tell
whose former number it is; see verification.limit_attempts), and a batch carrying more
attempts on one person than remain is refused for that person as a whole, with the
wait after which they would fit. A batch carrying more attempts on one person than
the whole day allows would never fit: it is refused with ``attempts_exceed_quota``,
no wait, and is not charged (the limiter is not even asked).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol

from verify.domain.gcra import MICROS, Decision, Quota, exceeds_burst
from verify.errors import AttemptsExceedQuota, TooManyAttempts

ATTEMPTS_PERIOD_S = 86_400


class AttemptLimiter(Protocol):
    async def spend(
        self, agency_id: int, costs: Mapping[str, int], quota: Quota
    ) -> dict[str, Decision]:
        """Charge each person's attempts (``costs``: ID number -> attempts); a decision each.
        Every cost fits in the quota (``charge_attempts`` refuses the others itself)."""
        ...


@functools.lru_cache(maxsize=8)
def quota(per_day: int) -> Quota:
    return Quota(per_day, ATTEMPTS_PERIOD_S)


async def charge_attempts(
    agency_id: int, subjects: Sequence[str], limiter: AttemptLimiter, per_day: int
) -> list[TooManyAttempts | None]:
    """For each subject (in order): None when allowed, else the refusal with its wait."""
    if not subjects:  # a batch whose every item was refused before (its problems in place)
        return []
    rule = quota(per_day)
    if len(subjects) == 1:  # a verify (the common case): one attempt on one person
        if exceeds_burst(rule, 1):  # a quota of none a day
            return [_never(1, per_day)]
        subject = subjects[0]
        decision = (await limiter.spend(agency_id, {subject: 1}, rule))[subject]
        return [None if decision.allowed else _refusal(decision, 1, per_day)]
    costs = Counter(subjects)
    if len(costs) == len(subjects) and not exceeds_burst(rule, 1):
        # every person once (a batch's usual): each a cost of 1, which fits the quota
        decisions = await limiter.spend(agency_id, costs, rule)
        refused = {s: _refusal(d, 1, per_day) for s, d in decisions.items() if not d.allowed}
        return [refused.get(s) for s in subjects] if refused else [None] * len(subjects)
    refusals: dict[str, TooManyAttempts] = {
        subject: _never(cost, per_day)
        for subject, cost in costs.items()
        if exceeds_burst(rule, cost)
    }
    fitting = {subject: cost for subject, cost in costs.items() if subject not in refusals}
    decisions = await limiter.spend(agency_id, fitting, rule) if fitting else {}
    refusals |= {
        subject: _refusal(decision, fitting[subject], per_day)
        for subject, decision in decisions.items()
        if not decision.allowed
    }
    return [refusals.get(subject) for subject in subjects]


def _refusal(decision: Decision, cost: int, per_day: int) -> TooManyAttempts:
    if not decision.ever:  # a limiter deciding by the domain's rule said so itself
        return _never(cost, per_day)
    return TooManyAttempts(
        f"too many verify attempts on this person today (at most {per_day} a rolling day)",
        retry_after=decision.retry_after_us / MICROS,
    )


def _never(cost: int, per_day: int) -> AttemptsExceedQuota:
    return AttemptsExceedQuota(
        f"this request holds {cost} verify attempts on one person, more than the {per_day} "
        f"a rolling day allows: none was made, and no wait would let them all through; "
        f"send at most {per_day}"
    )
