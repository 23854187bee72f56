"""The bench's outputs: bench.json, a table on stdout, and bench.png beside the JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

GOALS: dict[str, tuple[str, float | None]] = {
    "c_over_a": ("(c)/(a) verify, cache hits / hello world", 0.65),
    "d_over_b": ("(d)/(b) verify, caches off / naive SELECT", 2.0),
    "e_items_per_s": ("(e) batch items/s", 150_000.0),
    "c_over_f": ("(c)/(f) audit on / audit off (what the audit costs)", None),
}


@dataclass(frozen=True)
class Ratio:
    value: float | None
    goal: float | None  # None: a figure to report, not a goal

    @property
    def met(self) -> bool | None:
        if self.value is None or self.goal is None:
            return None
        return self.value >= self.goal

    def as_dict(self) -> dict[str, object]:
        return {"value": self.value, "goal": self.goal, "met": self.met}


def ratios(servers: Mapping[str, Mapping[str, Any]]) -> dict[str, Ratio]:
    def rps(key: str) -> float | None:
        found = servers.get(key)
        return None if found is None else float(found["requests_per_s"])

    def over(top: str, bottom: str) -> float | None:
        a, b = rps(top), rps(bottom)
        return None if a is None or not b else round(a / b, 3)

    batch = servers.get("e")
    return {
        "c_over_a": Ratio(over("c", "a"), GOALS["c_over_a"][1]),
        "d_over_b": Ratio(over("d", "b"), GOALS["d_over_b"][1]),
        "e_items_per_s": Ratio(
            None if batch is None else float(batch["items_per_s"]), GOALS["e_items_per_s"][1]
        ),
        "c_over_f": Ratio(over("c", "f"), None),
    }


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}"


def write_json(path: Path, result: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


def _cores(run: Mapping[str, Any]) -> str:
    cores = run.get("cpu_cores", {})
    parts = [f"{cores.get(k, 0):.2f}" for k in ("server", "postgres", "redis", "wrk", "other")]
    return "/".join(parts)


def table(servers: Mapping[str, Mapping[str, Any]], found: Mapping[str, Ratio]) -> str:
    head = (
        f"{'server':<58}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'app us/req':>12}"
        "  cores app/pg/redis/wrk/other"
    )
    lines = [head, "-" * len(head)]
    for key, run in servers.items():
        errors = run["non_2xx"] + run["socket_errors"] + run["timeouts"]
        label = f"({key}) {run['title']}"[:57]
        lines.append(
            f"{label:<58}{run['requests_per_s']:>10,.0f}{run['p50_ms']:>9.2f}"
            f"{run['p99_ms']:>9.2f}{errors:>8}"
            f"{run.get('cpu_us_per_request', {}).get('server', 0):>12,.0f}  {_cores(run)}"
        )
        if "items_per_s" in run:
            lines.append(f"{'':<6}= {run['items_per_s']:,.0f} items/s")
    lines.append("")
    for key, ratio in found.items():
        name, goal = GOALS[key]
        shown = "n/a" if ratio.value is None else _fmt(ratio.value)
        if goal is None:
            lines.append(f"{name:<52}{shown:>12}")
            continue
        verdict = {True: "met", False: "NOT met", None: "not measured"}[ratio.met]
        lines.append(f"{name:<52}{shown:>12}   goal >= {_fmt(goal)}: {verdict}")
    return "\n".join(lines)


def chart(
    servers: Mapping[str, Mapping[str, Any]], found: Mapping[str, Ratio], out: Path, title: str
) -> None:
    fig = Figure(figsize=(13, 5.5), layout="constrained")  # no pyplot: no GUI, no global state
    fig.suptitle(title, fontsize=10)
    bars_ax, goals_ax = fig.subplots(1, 2, width_ratios=[2.4, 1])
    keys = list(servers)
    rps = [float(servers[k]["requests_per_s"]) for k in keys]
    palette = {"a": "tab:gray", "b": "tab:gray", "c": "tab:blue", "d": "tab:blue"}
    colors = [palette.get(k, "tab:green") for k in keys]
    bars = bars_ax.bar([f"({k})\n{servers[k]['short']}" for k in keys], rps, color=colors)
    for bar, key in zip(bars, keys, strict=True):
        run = servers[key]
        note = (
            f"{run['requests_per_s']:,.0f} req/s\n"
            f"p50 {run['p50_ms']:.1f} ms\np99 {run['p99_ms']:.1f} ms"
        )
        if "items_per_s" in run:
            note += f"\n{run['items_per_s']:,.0f} items/s"
        bars_ax.annotate(
            note, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=8,
        )  # fmt: skip
    bars_ax.set_ylabel("requests/s (2 worker processes, wrk on loopback)")
    bars_ax.set_ylim(0, max(rps, default=1) * 1.35)
    bars_ax.set_title("Throughput per server")
    goals = {k: r for k, r in found.items() if r.goal is not None}
    names = [GOALS[k][0].split(" ", 1)[0] for k in goals]
    shares = [
        0.0 if r.value is None or r.goal is None else 100 * r.value / r.goal for r in goals.values()
    ]
    goal_bars = goals_ax.bar(
        names, shares, color=["tab:green" if r.met else "tab:red" for r in goals.values()]
    )
    for bar, ratio in zip(goal_bars, goals.values(), strict=True):
        goal = ratio.goal or 0.0
        shown = "n/a" if ratio.value is None else f"{_fmt(ratio.value)}\n(goal {_fmt(goal)})"
        goals_ax.annotate(
            shown, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=8,
        )  # fmt: skip
    goals_ax.axhline(100, color="black", linewidth=1, linestyle="--")
    goals_ax.set_ylabel("% of goal")
    goals_ax.set_ylim(0, max([*shares, 100]) * 1.3)
    goals_ax.set_title("Against the goals")
    fig.savefig(out, dpi=110)
