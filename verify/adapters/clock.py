"""The clocks the service is handed: today's local date (cheaply) and now, in UTC."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable


class LocalToday:
    """Today's local date, read at most once a second (``date.today()`` converts the
    clock to local time on every call: measurable on the hot path)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = -1.0
        self._value = dt.date.today()

    def __call__(self) -> dt.date:
        now = self._clock()
        if now >= self._until:
            self._value = dt.date.today()
            self._until = now + 1.0
        return self._value


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
