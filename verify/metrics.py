"""Prometheus metrics of the service, created per application with their own registry.

Label values come from bounded sets only (route templates, outcomes, verdicts,
agency ids); never an ID number or anything personal. Agencies are labelled by
their numeric id (``agency_id``), not their name: the exposition must not list
who the clients are (``verify keys list`` maps ids to agencies).

With several worker processes (``verify serve --workers N``) prometheus-client
runs in multiprocess mode: every process writes its values to files in one
directory, and ``/metrics`` merges the files of all processes (``render``).
The directory is chosen, created and wiped by the parent before any worker
starts (``prepare_multiprocess_dir``); gauges declare how processes combine
(``livesum``: the sum over live processes).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prom_multiprocess

from verify import native

# The variable prometheus-client reads, once, when it is first imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# SLO thresholds in seconds: 1, 2, 5, 10, 25, 50, 100, 250 ms, then the tail.
QUEUE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(
        self, registry: CollectorRegistry | None = None, *, multiprocess_dir: str | None = None
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.multiprocess_dir = multiprocess_dir
        r = self.registry
        self.requests = Counter(
            "verify_http_requests",
            "HTTP requests answered, by route template, method and outcome class.",
            ["route", "method", "outcome"],
            registry=r,
        )
        self.duration = Histogram(
            "verify_http_request_duration_seconds",
            "Time from request start to response, by route template and outcome class.",
            ["route", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "verify_http_in_flight_requests",
            "Requests being handled now.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.shed = Counter(
            "verify_http_shed_requests",
            "Requests refused with 503 overloaded, by lane (interactive, bulk) and reason "
            "(overload: refused on arrival; queue_timeout: waited too long for a slot).",
            ["lane", "reason"],
            registry=r,
        )
        self.queue_wait = Histogram(
            "verify_admission_wait_seconds",
            "Time a request waited for a slot before it ran, by lane (requests that ran).",
            ["lane"],
            buckets=QUEUE_BUCKETS,
            registry=r,
        )
        self.overloaded = Gauge(
            "verify_admission_overloaded",
            "1 while the process is in overload (a standing interactive queue, or an event "
            "loop late by more than its target, for 100 ms), else 0.",
            registry=r,
            multiprocess_mode="max",
        )
        self.loop_lag = Histogram(
            "verify_event_loop_lag_seconds",
            "How late the event loop ran admission's heartbeat (every 10 ms while requests "
            "run or wait): time a request spends in socket buffers and the loop's ready "
            "queue, which the admission queue cannot see.",
            buckets=QUEUE_BUCKETS,
            registry=r,
        )
        self.admission_limit = Gauge(
            "verify_admission_limit",
            "Requests a process runs at once now: the adaptive limit, at most "
            "VERIFY_MAX_CONCURRENCY, lowered while the event loop runs late.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.client_gone = Counter(
            "verify_http_client_gone_requests",
            "Requests whose client hung up before the answer (counted as outcome cancelled).",
            registry=r,
        )
        self.verdicts = Counter(
            "verify_verdicts",
            "Verification answers by kind (single, batch_item) and verdict.",
            ["kind", "verdict"],
            registry=r,
        )
        self.rate_limited = Counter(
            "verify_rate_limited",
            "Requests or items refused with 429, per agency id.",
            ["agency_id"],
            registry=r,
        )
        self.audit_queue = Gauge(
            "verify_audit_queue_rows",
            "Audit rows waiting for the next group commit.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.audit_commit = Histogram(
            "verify_audit_commit_seconds",
            "Duration of one audit group commit (one INSERT of the tick's rows, committed).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.audit_rows = Counter("verify_audit_rows", "Audit rows committed.", registry=r)
        self.audit_failures = Counter(
            "verify_audit_failures",
            "Audit group commits that failed (their requests got 503).",
            registry=r,
        )
        self.db_pool = Gauge(
            "verify_db_pool_connections",
            "asyncpg pool connections by state (in_use, idle, max).",
            ["state"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.db_pool_waiting = Gauge(
            "verify_db_pool_waiting",
            "Tasks waiting to acquire a pooled connection.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.db_up = Gauge(
            "verify_db_up",
            "1 if the primary database answered the last background readiness check, else 0.",
            registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.limiter_local = limiter_local_counter(r)
        self.attempts_refused = Counter(
            "verify_attempts_refused",
            "Verify attempts refused by the per-person probing limit (too_many_attempts), "
            "per agency id.",
            ["agency_id"],
            registry=r,
        )
        self.agency_requests = Counter(
            "verify_agency_requests",
            "Requests per agency id (bounded set of registered agencies).",
            ["agency_id"],
            registry=r,
        )
        self.domain_compiled = Gauge(
            "verify_domain_compiled",
            "1 if verify/domain runs its mypyc-compiled build, 0 if pure Python (verify/native).",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.domain_compiled.set(1 if native.mode().compiled else 0)


CLIENT_GONE = 499  # nginx's "client closed request": no answer was delivered


def limiter_local_counter(registry: CollectorRegistry) -> Counter:
    """`verify serve`'s and `verify worker`'s (the probing limit of job lines) alike."""
    return Counter(
        "verify_limiter_local_decisions",
        "Limit charges decided by this process's own limiter because Redis did not decide "
        "them in time (down, slow, breaker open, or this process too busy to read the "
        "reply): while it grows, a limit is per process, not per fleet.",
        ["limiter"],
        registry=registry,
    )


def outcome_class(status: int) -> str:
    """'2xx', '4xx', '5xx', or 'cancelled' for a client that hung up: bounded labels."""
    if status == CLIENT_GONE:
        return "cancelled"
    return f"{status // 100}xx"


def observe_audit_commit(metrics: Metrics, rows: int, seconds: float) -> None:
    metrics.audit_rows.inc(rows)
    metrics.audit_commit.observe(seconds)


def observe_pool(metrics: Metrics, *, size: int, idle: int, max_size: int, waiting: int) -> None:
    metrics.db_pool.labels("in_use").set(size - idle)
    metrics.db_pool.labels("idle").set(idle)
    metrics.db_pool.labels("max").set(max_size)
    metrics.db_pool_waiting.set(waiting)


def render(metrics: Metrics) -> bytes:
    """The exposition text: this process's registry, or every process's files when multiprocess."""
    if metrics.multiprocess_dir is None:
        return generate_latest(metrics.registry)
    merged = CollectorRegistry()
    prom_multiprocess.MultiProcessCollector(merged, path=metrics.multiprocess_dir)  # type: ignore[no-untyped-call]
    return generate_latest(merged)


def prepare_multiprocess_dir(given: str | None) -> tuple[str, bool]:
    """Create (or reuse) the multiprocess directory and wipe the files of earlier runs.

    Returns the path and whether we created it (and so should remove it at exit).
    Only prometheus-client's ``*.db`` files are deleted, whatever the directory.
    """
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return str(path), False
    return tempfile.mkdtemp(prefix="verify-metrics-"), True


def mark_process_dead(pid: int, path: str) -> None:
    """Drop a dead worker's live gauges; its counters and histograms stay in the totals."""
    prom_multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
