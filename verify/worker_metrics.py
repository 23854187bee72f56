"""Prometheus metrics of `verify worker`, served on VERIFY_WORKER_METRICS_PORT.

The queue gauges are read from Postgres (the truth) by every worker; they are the same
in every worker, so dashboards and alerts take their ``max``. Labels are verdicts and
job states only.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from verify.metrics import limiter_local_counter

CHUNK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.lines = Counter(
            "verify_job_lines", "Job lines answered (and audited), by verdict.", ["verdict"],
            registry=r,
        )  # fmt: skip
        self.chunks = Counter("verify_job_chunks", "Job chunks committed.", registry=r)
        self.chunk_seconds = Histogram(
            "verify_job_chunk_seconds", "Time to claim, verify and commit one chunk.",
            buckets=CHUNK_BUCKETS, registry=r,
        )  # fmt: skip
        self.jobs = Gauge(
            "verify_jobs", "Jobs waiting or in progress, by state (queue depth).", ["state"],
            registry=r,
        )  # fmt: skip
        self.lines_waiting = Gauge(
            "verify_job_lines_waiting", "Lines of queued and running jobs not yet answered.",
            registry=r,
        )  # fmt: skip
        self.oldest_age = Gauge(
            "verify_job_oldest_age_seconds", "Age of the oldest queued or running job.",
            registry=r,
        )  # fmt: skip
        self.stalest = Gauge(
            "verify_job_stalest_progress_seconds",
            "Longest time since a queued or running job last committed a chunk.",
            registry=r,
        )
        self.requeued = Counter(
            "verify_job_requeued", "Jobs the sweeper enqueued again (no progress).", registry=r
        )
        self.attempts_refused = Counter(
            "verify_job_attempts_refused",
            "Job lines refused by the per-person probing limit (too_many_attempts), per agency id.",
            ["agency_id"],
            registry=r,
        )
        self.limiter_local = limiter_local_counter(r)  # the probing limit's, decided here
        self.limiter_local.labels("attempts")
        self.draining = Gauge(
            "verify_worker_draining", "1 while the worker drains after SIGTERM.", registry=r
        )

        for verdict in ("match", "no_match", "not_found", "invalid"):
            self.lines.labels(verdict)
        for state in ("queued", "running"):
            self.jobs.labels(state)

    def observe_refused(self, agency_id: int, n: int) -> None:
        self.attempts_refused.labels(str(agency_id)).inc(n)

    def observe_chunk(self, counts: dict[str, int], seconds: float) -> None:
        self.chunks.inc()
        self.chunk_seconds.observe(seconds)
        for verdict, n in counts.items():
            self.lines.labels(verdict).inc(n)
