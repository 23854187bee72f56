"""`make loadtest`: each scenario headless against a local `verify serve`, gated, plotted.

Expects the VERIFY_* environment of the dev stack (`verify dev env`) and a seeded
register. Writes locust's HTML report and CSV files, summary.md and loadtest.png
to loadtest/results/; exits 1 when a scenario misses a gate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from loadtest import plot, report
from loadtest.sample import fetch_sample, write_sample
from loadtest.scenarios import SCENARIOS, Scenario
from loadtest.service import get_json, mint_keys, running_server
from verify.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "loadtest" / "locustfile.py"


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtest.run", description=__doc__)
    p.add_argument("--duration", type=int, default=40, help="seconds per scenario")
    p.add_argument("--workers", type=int, default=2, help="verify serve --workers")
    p.add_argument("--sample", type=int, default=20000, help="register entries to draw IDs from")
    p.add_argument("--results", type=Path, default=ROOT / "loadtest" / "results")
    p.add_argument("--scenarios", default=",".join(s.name for s in SCENARIOS))
    return p.parse_args(argv)


def _run_locust(
    scenario: Scenario, url: str, prefix: Path, duration: int, env: dict[str, str]
) -> None:
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url]
    cmd += ["-u", str(scenario.users), "-r", str(scenario.spawn_rate), "-t", f"{duration}s"]
    cmd += ["--stop-timeout", "5", "--reset-stats", "--csv", str(prefix), "--csv-full-history"]
    cmd += ["--html", f"{prefix}.html", "--only-summary", "--loglevel", "WARNING"]
    print(f"loadtest: {scenario.name}: {scenario.users} users for {duration}s ({scenario.note})")
    # locust exits 1 when any request failed: the gates below decide instead
    subprocess.run([*cmd, scenario.user_class], env=env, timeout=duration + 120, check=False)


def _locust_env(sample: Path, tokens: dict[str, str]) -> dict[str, str]:
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["LOADTEST_SAMPLE"] = str(sample)
    env.update({f"LOADTEST_KEY_{role.upper()}": token for role, token in tokens.items()})
    return env


def _routes(url: str) -> set[str]:
    spec = get_json(f"{url}/openapi.json")
    paths = spec.get("paths", {}) if isinstance(spec, dict) else {}
    return set(paths)


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as e:
        print(f"loadtest: {e} (run through `make loadtest`)", file=sys.stderr)
        return 2
    chosen = [s for s in SCENARIOS if s.name in args.scenarios.split(",")]
    args.results.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="verify-loadtest-") as tmp:
        sample = Path(tmp) / "sample.json"
        people = asyncio.run(fetch_sample(settings.database_url, args.sample))
        if not people:
            print("loadtest: the register is empty: seed it first", file=sys.stderr)
            return 2
        write_sample(people, sample)
        env = _locust_env(sample, asyncio.run(mint_keys(settings.owner_database_url)))
        with running_server(args.workers, Path(tmp) / "serve.log") as url:
            outcomes, skipped = _run_all(chosen, url, args, env)
    return _finish(outcomes, skipped, args)


def _run_all(
    chosen: list[Scenario], url: str, args: argparse.Namespace, env: dict[str, str]
) -> tuple[list[report.Outcome], list[str]]:
    routes = _routes(url)
    outcomes, skipped = [], []
    for scenario in chosen:
        if scenario.needs_route is not None and scenario.needs_route not in routes:
            skipped.append(f"{scenario.name}: the service has no {scenario.needs_route} yet")
            continue
        prefix = args.results / scenario.name
        _run_locust(scenario, url, prefix, args.duration, env)
        outcomes.append(report.evaluate(scenario, prefix))
    return outcomes, skipped


def _finish(outcomes: list[report.Outcome], skipped: list[str], args: argparse.Namespace) -> int:
    text = report.summary(outcomes, skipped, args.duration)
    (args.results / "summary.md").write_text(text)
    if outcomes:
        prefixes = [args.results / o.scenario.name for o in outcomes]
        plot.draw(outcomes, prefixes, args.results / "loadtest.png")
    print(text)
    failed = [o.scenario.name for o in outcomes if not o.passed]
    if failed:
        print(f"loadtest: FAILED gates in {', '.join(failed)}", file=sys.stderr)
    return 1 if failed or not outcomes else 0


if __name__ == "__main__":
    sys.exit(main())
