"""In-memory stand-ins for the limiters' Redis script and circuit breaker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from verify.adapters.gcra_batch import Charge
from verify.domain.gcra import decide


class FakeRedis:
    """``gcra_many.lua`` as Python: the domain's rule, key by key in order, one clock reading
    per call (``clock``'s when given); ``gate`` holds a call until set, ``error`` makes
    calls fail; ``granted`` counts the tokens allowed per key."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock
        self.now_us = 1_000_000_000
        self.granted: dict[str, int] = {}
        self.allowed: list[Charge] = []  # the charges allowed, in order
        self.tat: dict[str, int] = {}
        self.calls: list[list[str]] = []
        self.charges: list[Charge] = []  # every charge sent, in order
        self.gate: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.malformed: list[int] | None = None  # the reply instead of the refusals
        self.called = asyncio.Event()

    async def __call__(self, charges: Sequence[Charge]) -> Sequence[int]:
        self.calls.append([charge.key for charge in charges])
        self.charges += charges
        self.called.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        if self.clock is not None:
            self.now_us = int(self.clock() * 1_000_000)
        refused: list[int] = []  # the refused charges only: index, wait
        for i, (key, rule, cost, strict) in enumerate(charges):
            d = decide(self.tat.get(key), self.now_us, rule, cost, strict=strict)
            if d.allowed:
                self.tat[key] = d.tat_us
                self.granted[key] = self.granted.get(key, 0) + cost
                self.allowed.append(charges[i])
            else:
                refused += (i, d.retry_after_us)
        return self.malformed if self.malformed is not None else refused


class FakeBreaker:
    def __init__(self, *, open_: bool = False) -> None:
        self.open = open_
        self.events: list[str] = []

    def allow(self) -> bool:
        return not self.open

    def success(self) -> None:
        self.events.append("success")

    def failure(self) -> None:
        self.events.append("failure")

    def abandon(self) -> None:
        self.events.append("abandon")
