"""`verify worker` counts its job lines' probing-limit charges decided locally under the name
the alert reads (serve's wiring: tests/integration/test_limiter_wiring.py)."""

from __future__ import annotations

from prometheus_client import generate_latest

from verify.worker_metrics import WorkerMetrics

SERIES = 'verify_limiter_local_decisions_total{limiter="attempts"}'


def test_the_worker_exposes_the_probing_limits_local_decisions_from_zero() -> None:
    metrics = WorkerMetrics()
    assert f"{SERIES} 0.0" in generate_latest(metrics.registry).decode()
    metrics.limiter_local.labels("attempts").inc(3)  # what on_fallback(3) does
    assert f"{SERIES} 3.0" in generate_latest(metrics.registry).decode()
