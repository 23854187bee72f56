"""One PNG: throughput and p50/p99 over time for each scenario, from locust's history CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from matplotlib.figure import Figure

from loadtest.report import AGGREGATED, Outcome

Series = tuple[list[float], list[float], list[float], list[float]]


def _history(prefix: Path) -> Series:
    t, rps, p50, p99 = [], [], [], []
    with Path(f"{prefix}_stats_history.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if row["Name"] != AGGREGATED or "N/A" in (row["50%"], row["99%"]):
                continue
            t.append(float(row["Timestamp"]))
            rps.append(float(row["Requests/s"]))
            p50.append(float(row["50%"]))
            p99.append(float(row["99%"]))
    start = t[0] if t else 0.0
    return [x - start for x in t], rps, p50, p99


def draw(outcomes: list[Outcome], prefixes: list[Path], out: Path) -> None:
    fig = Figure(figsize=(10, 3.2 * len(outcomes)))  # no pyplot: no GUI backend, no global state
    axes = fig.subplots(len(outcomes), 1, squeeze=False)
    for ax, outcome, prefix in zip(axes[:, 0], outcomes, prefixes, strict=True):
        t, rps, p50, p99 = _history(prefix)
        ax.plot(t, rps, color="tab:blue", label="requests/s")
        ax.set_ylabel("requests/s", color="tab:blue")
        ax.set_xlabel("seconds")
        lat = ax.twinx()
        lat.plot(t, p50, color="tab:green", label="p50 ms")
        lat.plot(t, p99, color="tab:red", label="p99 ms")
        for limit in outcome.scenario.p99_ms.values():
            lat.axhline(limit, color="tab:red", linestyle=":", linewidth=1)
        lat.set_ylabel("ms")
        lat.set_ylim(bottom=0)
        verdict = "pass" if outcome.passed else "FAIL"
        ax.set_title(
            f"{outcome.scenario.name}: {outcome.rps:,.0f} req/s, p50 {outcome.p50_ms:.0f} ms, "
            f"p99 {outcome.p99_ms:.0f} ms, failures {outcome.failure_ratio:.2%} ({verdict})"
        )
        lines = ax.get_lines() + lat.get_lines()[:2]
        ax.legend(lines, [str(line.get_label()) for line in lines], loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
