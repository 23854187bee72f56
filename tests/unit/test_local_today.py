"""Vietnam's calendar day, whatever the server's clock zone (DESIGN.md, "today")."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from verify.adapters.clock import LocalToday

VIETNAM = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_today_is_vietnams_date_not_utcs() -> None:
    today = LocalToday(VIETNAM, now=lambda: _utc("2026-01-01T17:30:00"))
    assert today() == dt.date(2026, 1, 2)  # 00:30 on 2 January in Vietnam


def test_the_day_turns_at_midnight_in_vietnam() -> None:
    now = [_utc("2026-06-30T16:59:59")]
    ticks = [0.0]
    today = LocalToday(VIETNAM, clock=lambda: ticks[0], now=lambda: now[0])
    assert today() == dt.date(2026, 6, 30)
    now[0], ticks[0] = _utc("2026-06-30T17:00:00"), 1.0
    assert today() == dt.date(2026, 7, 1)


def test_another_zone_from_the_database() -> None:
    today = LocalToday(zoneinfo.ZoneInfo("America/New_York"), now=lambda: _utc("2026-01-01T03:00"))
    assert today() == dt.date(2025, 12, 31)


def test_today_is_read_at_most_once_a_second() -> None:
    reads: list[dt.datetime] = []

    def now() -> dt.datetime:
        reads.append(_utc("2026-11-28T00:00") + dt.timedelta(days=len(reads)))
        return reads[-1]

    ticks = [0.0]
    today = LocalToday(VIETNAM, clock=lambda: ticks[0], now=now)
    first = today()
    ticks[0] = 0.5
    assert today() == first and len(reads) == 2  # one in __init__, one at the first call
    ticks[0] = 1.5
    assert today() > first and len(reads) == 3
