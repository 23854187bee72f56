"""The GCRA rule in process memory: the limiters' fallback while Redis fails (or is absent).

With N instances each keeps its own buckets, so a key then gets at most N times its
rate; that is the price of answering while Redis is down instead of refusing.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from verify.domain.gcra import MICROS, Decision, Rule, decide

LOCAL_MAX_KEYS = 10_000


class LocalLimiter:
    """The same GCRA in process memory, on at most ``max_keys`` keys (least recent dropped)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, max_keys: int = LOCAL_MAX_KEYS
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._tat: OrderedDict[str, int] = OrderedDict()

    def check(self, key: str, limit: Rule, cost: int, *, strict: bool = False) -> Decision:
        now = int(self._clock() * MICROS)
        decision = decide(self._tat.get(key), now, limit, cost, strict=strict)
        if decision.allowed:
            self._tat[key] = decision.tat_us
            self._tat.move_to_end(key)
            if len(self._tat) > self._max_keys:
                self._tat.popitem(last=False)
        return decision
