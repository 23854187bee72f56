"""GCRA (generic cell rate algorithm): the rate-limit rule, as pure arithmetic on microseconds.

State is one number per key, the theoretical arrival time (TAT). A request of
``cost`` units is allowed when the bucket holds ``min(cost, burst)`` units; it
then moves the TAT by ``cost`` emission intervals, so a batch larger than the
burst is let through only from a full bucket and pays its whole cost after.
The Redis script (verify/adapters/gcra_many.lua) is the same rule, on Redis's clock.

A ``Quota`` is the same rule over a longer period (the per-person probing limit:
so many attempts per rolling day). It is *strict*: a request is allowed only when
the bucket holds its whole cost, so a batch of many guesses on one person can
never pass from a full bucket. A strict cost above the burst can never be allowed,
however long one waits: its refusal says so (``Decision.ever``) instead of naming a wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

MICROS: Final = 1_000_000


class Rule(Protocol):
    @property
    def interval_us(self) -> int: ...

    @property
    def burst(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Limit:
    rate_per_s: int
    burst: int

    @property
    def interval_us(self) -> int:
        return max(1, MICROS // self.rate_per_s)


@dataclass(frozen=True, slots=True)
class Quota:
    """``count`` units per ``period_s`` seconds, all of them available at once."""

    count: int
    period_s: int

    @property
    def interval_us(self) -> int:
        return max(1, MICROS * self.period_s // self.count)

    @property
    def burst(self) -> int:
        return self.count


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    tat_us: int  # the new state (unchanged when refused)
    retry_after_us: int = 0
    ever: bool = True  # False: refused whatever the wait (a strict cost above the burst)


def exceeds_burst(limit: Rule, cost: int) -> bool:
    """A strict charge of ``cost`` can never be allowed: no bucket ever holds that much."""
    return cost > limit.burst


def decide(
    tat_us: int | None, now_us: int, limit: Rule, cost: int, *, strict: bool = False
) -> Decision:
    """Allow ``cost`` units or say how long to wait. ``strict``: the whole cost must fit
    (a cost above the burst is then never allowed)."""
    interval = limit.interval_us
    tat = now_us if tat_us is None or tat_us < now_us else tat_us
    if strict and exceeds_burst(limit, cost):
        return Decision(False, tat, 0, ever=False)
    needed = cost if strict else min(cost, limit.burst)
    allow_at = tat + interval * needed - interval * limit.burst
    if allow_at > now_us:
        return Decision(False, tat, allow_at - now_us)
    return Decision(True, tat + interval * cost)
