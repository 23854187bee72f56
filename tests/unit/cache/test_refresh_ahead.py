"""L1's bulk read and the refresh ahead of expiry: a hot entry is reloaded off the request
path before it expires, under the same version guard as any load."""

from __future__ import annotations

import asyncio
import secrets

from prometheus_client import CollectorRegistry

from cache.codec import Codec
from cache.keyspace import KeySpace
from cache.l1 import L1, NEGATIVE
from cache.metrics import CacheMetrics
from cache.register import CachedRegister
from tests.unit.cache.test_l1_no_tick import finished_without_suspending
from tests.unit.cache.test_units import FakeClock
from tests.unit.service.fakes import record
from verify.domain.model import CitizenRecord

ANNA, BINH = "001190000001", "001190000002"


def test_read_sorts_hits_negatives_misses_and_entries_due_for_a_refresh() -> None:
    clock = FakeClock()
    l1: L1[str] = L1(ttl_s=30.0, refresh_ahead_s=5.0, clock=clock)
    l1.put("a", "A", 1)
    l1.put("n", NEGATIVE, 0)
    found: dict[str, str] = {}
    assert l1.read(["a", "n", "x"], found) == (1, ["x"], None)
    assert found == {"a": "A"}
    clock.now += 25.0  # the last 5 s of their life: still answered, and due
    found = {}
    assert l1.read(["a", "n"], found) == (1, None, ["a", "n"])
    assert found == {"a": "A"}
    clock.now += 5.0  # expired: a miss, and dropped
    found = {}
    assert l1.read(["a", "n"], found) == (0, ["a", "n"], None)
    assert found == {} and len(l1) == 0


def test_read_keeps_the_lru_order() -> None:
    l1: L1[str] = L1(max_entries=2, clock=FakeClock())
    l1.put("a", "A", 1)
    l1.put("b", "B", 1)
    l1.read(["a"], {})
    l1.put("c", "C", 1)
    assert l1.get("b") is None and l1.get("a") == "A"


def test_refresh_ahead_never_exceeds_half_the_ttl() -> None:
    clock = FakeClock()
    l1: L1[str] = L1(ttl_s=4.0, refresh_ahead_s=10.0, clock=clock)
    l1.put("a", "A", 1)
    clock.now += 1.9
    assert l1.read(["a"], {})[2] is None
    clock.now += 0.2
    assert l1.read(["a"], {})[2] == ["a"]


class Source:
    """The system of record, in memory; counts its reads."""

    def __init__(self, *records: CitizenRecord) -> None:
        self.records = {r.id_number: r for r in records}
        self.reads: list[list[str]] = []
        self.down = False

    async def fetch_records(self, ids: list[str]) -> dict[str, CitizenRecord]:
        if self.down:
            raise ConnectionError("the register is down")
        self.reads.append(sorted(ids))
        return {i: self.records[i] for i in ids if i in self.records}

    async def resolve_former(self, former_ids: list[str]) -> dict[str, str]:
        return {}


def cached(source: Source, clock: FakeClock, metrics: CacheMetrics | None = None) -> CachedRegister:
    key = secrets.token_bytes(32)
    return CachedRegister(
        source, keyspace=KeySpace("t", key), codec=Codec(key), redis=None, clock=clock,
        metrics=metrics,
    )  # fmt: skip


async def settle() -> None:
    for _ in range(5):  # the tick's batch, its task, the fetch
        await asyncio.sleep(0)


async def test_a_hot_entry_is_reloaded_before_it_expires_without_a_request_waiting() -> None:
    clock, source = FakeClock(), Source(record(ANNA), record(BINH))
    register = cached(source, clock)
    assert set(await register.get_many([ANNA, BINH])) == {ANNA, BINH}
    assert source.reads == [[ANNA, BINH]]
    source.records[ANNA] = record(ANNA, "Nguyễn Văn Bình", version=2)
    clock.now += 26.0  # due, not expired: answered from L1 without suspending
    found = finished_without_suspending(register.get_many([ANNA]))
    assert found == {ANNA: record(ANNA)}
    finished_without_suspending(register.get_many([ANNA]))  # one reload, however many hits
    await settle()
    assert source.reads == [[ANNA, BINH], [ANNA]]
    clock.now += 10.0  # past the first entry's expiry: the reloaded one answers
    assert finished_without_suspending(register.get_many([ANNA]))[ANNA].version == 2
    assert await register.get_many([BINH]) == {BINH: record(BINH)}  # not read: it expired
    assert source.reads[-1] == [BINH]
    await register.aclose()


async def test_a_reload_cannot_put_back_a_version_older_than_an_invalidation() -> None:
    clock, source = FakeClock(), Source(record(ANNA))
    register = cached(source, clock)
    await register.get_many([ANNA])
    clock.now += 26.0
    finished_without_suspending(register.get_many([ANNA]))  # schedules the reload
    register.records.l1.invalidate(ANNA, 2)  # the change feed: version 2 now
    await settle()  # the reload read version 1 from the (slow) source: refused
    assert register.records.l1.get(ANNA) is None
    source.records[ANNA] = record(ANNA, version=2)
    assert (await register.get_many([ANNA]))[ANNA].version == 2
    await register.aclose()


async def test_a_failed_reload_leaves_the_entry_to_expire_and_no_task_error() -> None:
    clock, source = FakeClock(), Source(record(ANNA))
    metrics = CacheMetrics(CollectorRegistry())
    register = cached(source, clock, metrics)
    await register.get_many([ANNA])
    source.down = True
    clock.now += 26.0
    assert finished_without_suspending(register.get_many([ANNA])) == {ANNA: record(ANNA)}
    await settle()
    # nobody waited for it: counted, so a refresh that always fails does not look healthy
    failures = metrics.registry.get_sample_value("verify_cache_refresh_failures_total")
    assert failures == 1
    clock.now += 5.0
    try:
        await register.get_many([ANNA])
    except ConnectionError:
        pass  # the next request after expiry sees the failure itself
    else:
        raise AssertionError("an expired entry must not be answered")
    await register.aclose()
