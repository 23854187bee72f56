"""The bench's outputs: bench.json, a table on stdout, and bench.png beside the JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

# the goals are issue #10's "done when"; its aims, further, are in the labels
GOALS: dict[str, tuple[str, float | None]] = {
    "c_over_a": ("(c)/(a) verify, cache hits / hello world (aim 0.65)", 0.40),
    "d_over_b": ("(d)/(b) verify, caches off / naive SELECT (aim 2.0)", 1.3),
    "e_items_per_s": ("(e) batch items/s (aim 150,000)", 100_000.0),
    "c_over_f": ("(c)/(f) audit on / audit off (what the audit costs)", None),
    "c_over_g": ("(c)/(g) --workers 2 (multiprocess metrics) / 2 single processes", None),
    "h_over_a": ("(h)/(a) floor of (c) / hello world: (c)/(a) at best", None),
    "c_over_h": ("(c)/(h) verify, cache hits / its floor", None),
    "i_over_b": ("(i)/(b) floor of (d) / naive SELECT: (d)/(b) at best", None),
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
        "c_over_g": Ratio(over("c", "g"), None),
        "h_over_a": Ratio(over("h", "a"), None),
        "c_over_h": Ratio(over("c", "h"), None),
        "i_over_b": Ratio(over("i", "b"), None),
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
        side = run.get("side")
        if isinstance(side, dict):  # (j): the load beside the measured one
            lines.append(
                f"{'':<6}beside: {side['path']} x{side['connections']}, "
                f"{side['requests_per_s']:,.1f} req/s ({side.get('items_per_s', 0):,.0f} items/s), "
                f"p99 {side['p99_ms']:.0f} ms, errors "
                f"{side['non_2xx'] + side['socket_errors'] + side['timeouts']}"
            )
        local = run.get("pipeline", {}).get("attempts_local_decisions")
        if local:
            lines.append(f"{'':<6}probing-limit charges decided locally: {local:,}")
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


def stage_table(
    servers: Mapping[str, Mapping[str, Any]], stages: Mapping[str, Mapping[str, float]]
) -> str:
    """App CPU microseconds per request by stage (per item too, for batches)."""
    if not stages:
        return "per-stage CPU: no profile taken"
    names = list(next(iter(stages.values())))
    head = f"{'app CPU us/request by stage':<30}" + "".join(f"{n:>10}" for n in names)
    head += f"{'total':>10}"
    lines = [head, "-" * len(head)]
    for key, by in stages.items():
        lines.append(
            f"{f'({key}) ' + str(servers[key]['short']).replace(chr(10), ' '):<30}"
            + "".join(f"{by[n]:>10.1f}" for n in names)
            + f"{sum(by.values()):>10.1f}"
        )
        items = servers[key].get("items_per_request")
        if items:
            lines.append(
                f"{'      per item':<30}"
                + "".join(f"{by[n] / items:>10.2f}" for n in names)
                + f"{sum(by.values()) / items:>10.2f}"
            )
    return "\n".join(lines)


def _stage_panel(
    ax: Any, servers: Mapping[str, Mapping[str, Any]], stages: Mapping[str, Mapping[str, float]]
) -> None:
    keys = list(stages)
    per = {k: float(servers[k].get("items_per_request") or 1) for k in keys}
    bottom = [0.0] * len(keys)
    names = list(next(iter(stages.values()))) if stages else []
    labels = [f"({k})" + (" per item" if per[k] > 1 else "") for k in keys]
    for name in names:
        values = [stages[k][name] / per[k] for k in keys]
        ax.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for i, total in enumerate(bottom):
        ax.annotate(f"{total:.0f} us", (i, total), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.set_ylabel("app CPU us per request (per item for a batch)")
    ax.set_title("App CPU by stage (py-spy share x CPU)")
    ax.legend(fontsize=7, loc="upper left")


def chart(
    servers: Mapping[str, Mapping[str, Any]],
    found: Mapping[str, Ratio],
    out: Path,
    title: str,
    stages: Mapping[str, Mapping[str, float]] | None = None,
) -> None:
    fig = Figure(figsize=(17, 5.5), layout="constrained")  # no pyplot: no GUI, no global state
    fig.suptitle(title, fontsize=10)
    bars_ax, goals_ax, stage_ax = fig.subplots(1, 3, width_ratios=[2.4, 1, 1.2])
    _stage_panel(stage_ax, servers, stages or {})
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
