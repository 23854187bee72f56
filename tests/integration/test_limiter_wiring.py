"""`verify serve`'s limiters as the composition root wires them (verify/bootstrap.py): with
Redis unreachable every charge is decided by the process and counted in
``verify_limiter_local_decisions_total``; probing-limit leases only when turned on."""

from __future__ import annotations

import dataclasses

import pytest
from aiohttp import web

from verify import devservers
from verify.adapters.gcra_lease import LeasedAttemptLimiter
from verify.bootstrap import ATTEMPTS, _limiter
from verify.domain.gcra import Limit, Quota
from verify.http.appkeys import LIMITER, METRICS, SETTINGS
from verify.metrics import Metrics
from verify.settings import Settings

SERIES = "verify_limiter_local_decisions_total"


def _local(metrics: Metrics, limiter: str) -> float:
    value = metrics.registry.get_sample_value(SERIES, {"limiter": limiter})
    return 0.0 if value is None else value


@pytest.mark.parametrize("lease_max", [0, 1000])
async def test_charges_redis_did_not_decide_are_counted_by_limiter(
    settings: Settings, lease_max: int
) -> None:
    closed = f"redis://127.0.0.1:{devservers.free_port()}/0"  # nothing listens there
    app = web.Application()
    app[SETTINGS] = dataclasses.replace(settings, redis_url=closed, attempt_lease_max=lease_max)
    app[METRICS] = metrics = Metrics()
    wiring = _limiter(app)
    await anext(wiring)
    try:
        assert isinstance(app[ATTEMPTS], LeasedAttemptLimiter) is (lease_max > 0)
        decided = await app[ATTEMPTS].spend(
            7, {"001090000001": 1, "001090000002": 1}, Quota(50, 86_400)
        )
        assert all(d.allowed for d in decided.values())
        assert _local(metrics, "attempts") == 2
        await app[LIMITER].charge("key-1", Limit(10, 20), 1)
        assert _local(metrics, "rate") == 1
    finally:
        with pytest.raises(StopAsyncIteration):
            await anext(wiring)
