"""The readiness check: cached results, required vs informational checks, staleness."""

from __future__ import annotations

from verify.service.readiness import Readiness


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Dependency:
    def __init__(self) -> None:
        self.up = True
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if not self.up:
            raise ConnectionRefusedError("down")


def _readiness(clock: Clock, pg: Dependency, redis: Dependency) -> Readiness:
    return Readiness(
        {"postgres": pg, "redis": redis},
        required=frozenset({"postgres"}),
        interval_s=1.0,
        timeout_s=1.0,
        clock=clock,
    )


async def test_not_ready_before_the_first_check() -> None:
    readiness = _readiness(Clock(), Dependency(), Dependency())
    ready, body = readiness.report()
    assert not ready and body["status"] == "not_ready"


async def test_reports_never_run_a_check() -> None:
    clock, pg, redis = Clock(), Dependency(), Dependency()
    readiness = _readiness(clock, pg, redis)
    await readiness.check_once()
    for _ in range(1000):
        assert readiness.report()[0]
    assert (pg.calls, redis.calls, readiness.rounds) == (1, 1, 1)


async def test_postgres_decides_redis_informs() -> None:
    clock, pg, redis = Clock(), Dependency(), Dependency()
    readiness = _readiness(clock, pg, redis)
    redis.up = False
    await readiness.check_once()
    ready, body = readiness.report()
    assert ready
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["redis"] == {
        "ok": False, "required": False, "age_s": 0.0, "error": "ConnectionRefusedError"
    }  # fmt: skip
    pg.up = False
    await readiness.check_once()
    assert not readiness.report()[0]


async def test_a_stale_result_is_a_failure() -> None:
    clock, pg, redis = Clock(), Dependency(), Dependency()
    readiness = _readiness(clock, pg, redis)
    await readiness.check_once()
    clock.now += readiness.stale_after_s + 0.1  # the checking task is stuck
    assert not readiness.report()[0]


async def test_a_hung_check_times_out() -> None:
    import asyncio

    async def hangs() -> None:
        await asyncio.Event().wait()

    readiness = Readiness({"postgres": hangs}, required=frozenset({"postgres"}), timeout_s=0.01)
    await readiness.check_once()
    ready, body = readiness.report()
    assert not ready
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["postgres"]["error"] == "TimeoutError"
