from __future__ import annotations

import datetime as dt
import types

import pytest

from verify.adapters import clock as app_module
from verify.adapters.clock import LocalToday


def test_today_is_read_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []

    class FakeDate:
        @staticmethod
        def today() -> dt.date:
            reads.append(1)
            return dt.date(2026, 11, 28) + dt.timedelta(days=len(reads))

    monkeypatch.setattr(app_module, "dt", types.SimpleNamespace(date=FakeDate))
    ticks = [0.0]
    today = LocalToday(clock=lambda: ticks[0])
    first = today()
    ticks[0] = 0.5
    assert today() == first and len(reads) == 2  # one in __init__, one at the first call
    ticks[0] = 1.5
    assert today() > first and len(reads) == 3
