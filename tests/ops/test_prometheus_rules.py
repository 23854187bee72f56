"""deploy/prometheus: the config and rules pass promtool, every alert has unit tests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from prometheus_client import CollectorRegistry

from cache.metrics import CacheMetrics
from verify.metrics import Metrics
from verify.worker_metrics import WorkerMetrics

_ALERT = re.compile(r"^\s*- alert:\s*(\S+)\s*$", re.M)
RECORD = re.compile(r"^\s*- record:\s*(\S+)\s*$", re.M)
_TESTED = re.compile(r"^\s*alertname:\s*(\S+)\s*$", re.M)
_FIRING = re.compile(r"alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*\n\s*- exp_labels:", re.M)
_METRIC = re.compile(r"\b(verify_[a-z0-9_]+)")


def _promtool(promtool: str, *args: str | Path) -> str:
    done = subprocess.run(
        [promtool, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_config_and_rules_are_valid(promtool: str, deploy_dir: Path) -> None:
    out = _promtool(promtool, "check", "config", deploy_dir / "prometheus" / "prometheus.yml")
    assert "2 rule files found" in out


def test_alert_rules_pass_their_unit_tests(promtool: str, deploy_dir: Path) -> None:
    tests = sorted((deploy_dir / "prometheus" / "tests").glob("*.yml"))
    assert tests
    _promtool(promtool, "test", "rules", *tests)


def test_every_alert_is_tested_firing_and_quiet(deploy_dir: Path) -> None:
    alerts = set(_ALERT.findall((deploy_dir / "prometheus" / "rules" / "alerts.yml").read_text()))
    tests = "\n".join(p.read_text() for p in (deploy_dir / "prometheus" / "tests").glob("*.yml"))
    firing = set(_FIRING.findall(tests))
    assert len(alerts) >= 10
    assert alerts <= set(_TESTED.findall(tests)), "alerts without a test"
    assert alerts <= firing, f"alerts never tested firing: {sorted(alerts - firing)}"


def known_metric_names() -> set[str]:
    """Every sample name the app, the cache layer and `verify worker` can expose."""
    serve, worker = CollectorRegistry(), CollectorRegistry()  # processes of their own
    Metrics(serve)
    CacheMetrics(serve)
    WorkerMetrics(worker)  # shares some names with serve (verify_limiter_local_decisions)
    names: set[str] = set()
    for registry in (serve, worker):
        for family in registry.collect():
            kind = family.type
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
            names.update(family.name + s for s in suffixes.get(kind, [""]))
    return names


def test_rules_name_only_metrics_that_exist(deploy_dir: Path) -> None:
    rules = deploy_dir / "prometheus" / "rules"
    text = "\n".join(p.read_text() for p in rules.glob("*.yml"))
    recorded = {r.split(":")[1] for r in RECORD.findall(text)}
    used = {m for m in _METRIC.findall(text) if m not in recorded}
    assert used, "no metric found in the rules"
    assert used <= known_metric_names(), sorted(used - known_metric_names())
