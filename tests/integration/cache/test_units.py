"""The pure parts: L1 bound, TTL and blocks; the breaker; the change-feed window."""

from __future__ import annotations

from cache.breaker import Breaker, BreakerState
from cache.feed import FeedWindow
from cache.l1 import L1, NEGATIVE
from verify.domain.changes import Change, ChangeBatch


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_l1_is_bounded_and_evicts_the_least_recently_used() -> None:
    l1: L1[str] = L1(max_entries=3, clock=FakeClock())
    for k in "abc":
        l1.put(k, k.upper(), 1)
    assert l1.get("a") == "A"  # a is now the most recent
    l1.put("d", "D", 1)
    assert len(l1) == 3
    assert l1.get("b") is None
    assert [l1.get(k) for k in "acd"] == ["A", "C", "D"]


def test_l1_entries_expire_after_their_ttl() -> None:
    clock = FakeClock()
    l1: L1[str] = L1(ttl_s=1.0, clock=clock)
    l1.put("a", "A", 1)
    l1.put("n", NEGATIVE, 0)
    clock.now += 0.999
    assert l1.get("a") == "A"
    assert l1.get("n") is NEGATIVE
    clock.now += 0.002
    assert l1.get("a") is None
    assert l1.get("n") is None
    assert len(l1) == 0  # expired entries are dropped when read


def test_l1_refuses_fills_below_an_invalidated_version_for_a_while() -> None:
    clock = FakeClock()
    l1: L1[str] = L1(block_ttl_s=10.0, clock=clock)
    l1.put("a", "old", 4)
    l1.invalidate("a", 5)
    assert l1.get("a") is None
    assert not l1.put("a", "old", 4)
    assert not l1.put("a", NEGATIVE, 0)
    assert l1.put("a", "new", 5)
    clock.now += 10.0
    assert l1.put("a", "old", 4)  # blocks expire


def state(breaker: Breaker) -> BreakerState:
    return breaker.state  # a call: mypy does not narrow it across the state changes


def test_breaker_opens_after_n_failures_then_probes_once() -> None:
    clock, states = FakeClock(), list[BreakerState]()
    breaker = Breaker(failures=3, cooldown_s=2.0, clock=clock, on_change=states.append)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    breaker.success()  # consecutive failures only
    for _ in range(3):
        assert breaker.allow()
        breaker.failure()
    assert state(breaker) is BreakerState.OPEN
    assert not breaker.allow()
    clock.now += 2.0
    assert breaker.allow()  # the probe
    assert state(breaker) is BreakerState.HALF_OPEN
    assert not breaker.allow()  # one probe at a time
    breaker.failure()
    assert state(breaker) is BreakerState.OPEN
    clock.now += 2.0
    assert breaker.allow()
    breaker.success()
    assert state(breaker) is BreakerState.CLOSED and breaker.allow()
    assert states == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


def _change(seq: int) -> Change:
    return Change(seq, "001090000001", None, seq)


def low(window: FeedWindow) -> int:
    return window.low


def ready(window: FeedWindow) -> bool:
    return window.ready


def test_feed_window_does_not_skip_a_seq_that_commits_late() -> None:
    window = FeedWindow(low=10, xmax=100)
    assert not ready(window)  # transaction 99 may still commit a seq <= 10
    # seq 11 is taken by transaction 101, still running; seq 12 commits first.
    batch = ChangeBatch(xmin=101, xmax=103, upto=12, changes=[_change(12)])
    assert [c.seq for c in window.fresh(batch.changes)] == [12]
    window.observe(batch)
    assert ready(window)
    assert low(window) == 10  # 11 is not settled: read again from 10
    batch = ChangeBatch(xmin=101, xmax=104, upto=12, changes=[_change(12)])
    assert window.fresh(batch.changes) == []
    window.observe(batch)
    assert low(window) == 10
    batch = ChangeBatch(xmin=104, xmax=104, upto=12, changes=[_change(11), _change(12)])
    assert [c.seq for c in window.fresh(batch.changes)] == [11]
    window.observe(batch)
    assert low(window) == 12
    assert window.unsettled == 0


def test_feed_window_rewinds_to_an_older_cursor() -> None:
    window = FeedWindow(low=50, xmax=1)
    window.rewind(20)
    assert window.low == 20
    assert [c.seq for c in window.fresh([_change(21), _change(51)])] == [21, 51]
