"""Locust's CSV files turned into figures per scenario and pass/fail verdicts."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from loadtest.scenarios import Scenario

AGGREGATED = "Aggregated"


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p99_ms: float
    p99_by_name: dict[str, float]
    problems: tuple[str, ...]

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 1.0

    @property
    def passed(self) -> bool:
        return not self.problems


def _number(raw: str) -> float:
    return float(raw) if raw not in ("", "N/A") else float("nan")


def _gate(scenario: Scenario, rows: dict[str, dict[str, str]]) -> list[str]:
    problems = []
    for name, limit in scenario.p99_ms.items():
        row = rows.get(name)
        if row is None or int(row["Request Count"]) == 0:
            problems.append(f"no request {name!r} was made")
        elif (p99 := _number(row["99%"])) > limit:
            problems.append(f"{name}: p99 {p99:.0f} ms > {limit:.0f} ms")
    total = rows.get(AGGREGATED)
    if total is not None and int(total["Request Count"]):
        ratio = int(total["Failure Count"]) / int(total["Request Count"])
        if ratio > scenario.max_failure_ratio:
            problems.append(f"failure ratio {ratio:.2%} > {scenario.max_failure_ratio:.2%}")
    return problems


def evaluate(scenario: Scenario, prefix: Path) -> Outcome:
    with Path(f"{prefix}_stats.csv").open(newline="") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    total = rows.get(AGGREGATED)
    if total is None:
        return Outcome(scenario, 0, 0, 0.0, 0.0, 0.0, {}, ("locust wrote no statistics",))
    return Outcome(
        scenario=scenario,
        requests=int(total["Request Count"]),
        failures=int(total["Failure Count"]),
        rps=_number(total["Requests/s"]),
        p50_ms=_number(total["50%"]),
        p99_ms=_number(total["99%"]),
        p99_by_name={n: _number(r["99%"]) for n, r in rows.items() if n != AGGREGATED},
        problems=tuple(_gate(scenario, rows)),
    )


def summary(outcomes: list[Outcome], skipped: list[str], seconds: int) -> str:
    lines = [
        f"Load test: {seconds} s per scenario against `verify serve` on 127.0.0.1 "
        "(statistics from the end of the ramp-up).",
        "",
        "| scenario | requests | req/s | p50 ms | p99 ms | failures | gates | result |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for o in outcomes:
        gates = "; ".join(f"{n} p99 <= {v:.0f} ms" for n, v in o.scenario.p99_ms.items())
        result = "pass" if o.passed else "FAIL: " + "; ".join(o.problems)
        lines.append(
            f"| {o.scenario.name} | {o.requests:,} | {o.rps:,.1f} | {o.p50_ms:.0f} | "
            f"{o.p99_ms:.0f} | {o.failure_ratio:.2%} | {gates}, failures <= "
            f"{o.scenario.max_failure_ratio:.1%} | {result} |"
        )
    lines += ["", "p99 per request:", ""]
    lines += [f"- {n}: {v:.0f} ms" for o in outcomes for n, v in o.p99_by_name.items()]
    lines += [f"- skipped: {s}" for s in skipped]
    return "\n".join(lines) + "\n"
