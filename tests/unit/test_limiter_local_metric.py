"""Charges decided locally are counted in `verify serve` and in `verify worker` alike (the
worker's are the probing limit of job lines), under one name the alert reads."""

from __future__ import annotations

from prometheus_client import generate_latest

from verify.metrics import Metrics
from verify.worker_metrics import WorkerMetrics

SERIES = 'verify_limiter_local_decisions_total{limiter="attempts"}'


def test_the_worker_exposes_the_probing_limits_local_decisions_from_zero() -> None:
    metrics = WorkerMetrics()
    assert f"{SERIES} 0.0" in generate_latest(metrics.registry).decode()
    metrics.limiter_local.labels("attempts").inc(3)  # what on_fallback(3) does
    assert f"{SERIES} 3.0" in generate_latest(metrics.registry).decode()


def test_serve_and_worker_count_under_the_same_name_and_label() -> None:
    serve, worker = Metrics(), WorkerMetrics()
    serve.limiter_local.labels("attempts").inc(2)
    worker.limiter_local.labels("attempts").inc(2)
    assert f"{SERIES} 2.0" in generate_latest(serve.registry).decode()
    assert f"{SERIES} 2.0" in generate_latest(worker.registry).decode()
