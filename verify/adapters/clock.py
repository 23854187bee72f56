"""The clocks the service is handed: today's date in Vietnam (cheaply) and now, in UTC."""

from __future__ import annotations

import datetime as dt
import functools
import time
import zoneinfo
from collections.abc import Callable

# now, aware, in UTC: a partial runs in C, a function of ours would add a Python frame to
# each of the two reads of a verify (its audit's start and latency)
utc_now: Callable[[], dt.datetime] = functools.partial(dt.datetime.now, dt.UTC)


class LocalToday:
    """Today's date in ``zone`` (Vietnam's calendar day, whatever the server's clock zone;
    the zone comes from the zone database, setting ``VERIFY_TIMEZONE``), read at most once
    a second: converting the clock to a zone on every call is measurable on the hot path.
    ``now`` (an aware UTC clock) and ``clock`` (monotonic) are passed in by tests."""

    def __init__(
        self,
        zone: zoneinfo.ZoneInfo,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._zone = zone
        self._now = now
        self._clock = clock
        self._until = -1.0
        self._value = self._read()

    def _read(self) -> dt.date:
        return self._now().astimezone(self._zone).date()

    def __call__(self) -> dt.date:
        tick = self._clock()
        if tick >= self._until:
            self._value = self._read()
            self._until = tick + 1.0
        return self._value
