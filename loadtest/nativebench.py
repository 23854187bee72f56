"""verify/domain compiled (mypyc) against pure Python in CPU time: `python -m loadtest.nativebench`.

The two builds cannot share a process, so each measurement runs in a child process of one
build (``VERIFY_PURE_PYTHON=1`` or not; verify/native.py), the children of both builds taking
turns (pure, compiled, compiled, pure, ...) so that a slower minute of this shared machine
falls on both. Two kinds of figures:

- the domain's hot functions, per call, over the claims of a realistic batch
  (:mod:`loadtest.pathbench`'s claims on the seed's people): ``warm`` with the memos of names,
  dates and purposes filled, as the service runs on a repeated population; ``cold`` with every
  memo of the domain emptied before each run, so the rules themselves are timed;
- :mod:`loadtest.pathbench`'s per-item stages of a batch (parse, record, evaluate, audit,
  serialise), which run the domain among the HTTP, adapter and service code around it.

Each figure is the best (least disturbed) of ``--rounds`` timed runs in the thread's CPU time,
then the best over the ``--children`` children of its build. The ratio is pure / compiled
(above 1: the compiled build is faster). The compiled children must run the compiled modules,
else this stops (no build: `make install`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadtest import pathbench
from verify import native

Bench = tuple[str, Callable[[], object], int]


def _memos() -> list[Any]:
    """Every memo (functools.lru_cache) of the domain's modules, to empty for cold runs."""
    found = []
    for name in native.compiled_names():
        module = sys.modules[name]
        found += [v for v in vars(module).values() if hasattr(v, "cache_clear")]
    return found


def benches(items: int, seed: int) -> list[Bench]:
    from verify.domain import cards, claims, gcra, id_number, names, qr, verdict

    rows = pathbench.register_rows(seed, pathbench.PEOPLE)
    records = [pathbench.record_from_row(row) for row in rows]
    by_id = {r.id_number: r for r in records}
    bodies = pathbench.batch(records, items, seed)
    parsed = [claims.parse_claim(b) for b in bodies]
    pairs = [(c, by_id.get(c.id_number)) for c in parsed]
    named = [(c.full_name or c.booking_name or "", r.full_name) for c, r in pairs if r]
    held = [(r.cards, c.card_issue_date) for c, r in pairs if r]
    outcomes = [verdict.evaluate(c, r, pathbench.TODAY) for c, r in pairs]
    qrs = [
        qr.build_qr(r.id_number, r.full_name, r.birth.value, r.gender, "Hà Nội",
                    r.cards[-1].issue_date if r.cards else None)
        for r in records[:items]
    ]  # fmt: skip
    ids = [str(b["id_number"]) for b in bodies]
    limit = gcra.Limit(1000, 50)
    today = pathbench.TODAY
    return [
        ("parse_claim", lambda: [claims.parse_claim(b) for b in bodies], len(bodies)),
        ("match_name", lambda: [names.match_name(a, b) for a, b in named], len(named)),
        ("evaluate", lambda: [verdict.evaluate(c, r, today) for c, r in pairs], len(pairs)),
        ("outcome_to_json", lambda: [verdict.outcome_to_json(o) for o in outcomes], items),
        ("check_card", lambda: [cards.check_card(h, p, today) for h, p in held], len(held)),
        ("parse_qr", lambda: [qr.parse_qr(p) for p in qrs], len(qrs)),
        ("parse_id_number", lambda: [id_number.parse_id_number(i) for i in ids], len(ids)),
        ("gcra.decide", lambda: [gcra.decide(t, t + 700, limit, 1) for t in range(items)], items),
    ]


def _best_us(run: Callable[[], object], rounds: int, before: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(rounds):
        before()
        start = time.thread_time_ns()
        run()
        best = min(best, time.thread_time_ns() - start)
    return best / 1e3


def child(out: Path, items: int, seed: int, rounds: int) -> None:
    """One child's figures (µs per call), as JSON into ``out``."""
    figures: dict[str, float] = {}
    made = benches(items, seed)
    memos = _memos()

    def clear() -> None:
        for memo in memos:
            memo.cache_clear()

    for name, run, calls in made:
        run()  # warm: memos, lazily built state
        figures[f"{name} warm"] = _best_us(run, rounds, lambda: None) / calls
    for name, run, calls in made:
        figures[f"{name} cold"] = _best_us(run, rounds, clear) / calls
    report = {"mode": native.mode().name, "compiled": native.loaded_compiled(), "us": figures}
    out.write_text(json.dumps(report))


def _spawn(pure: bool, argv: list[str]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != native.ENV}
    if pure:
        env[native.ENV] = "1"
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [sys.executable, "-m", *argv, out.name],
            env=env, check=True, stdout=subprocess.DEVNULL,  # pathbench's own table
        )  # fmt: skip
        figures: dict[str, Any] = json.loads(Path(out.name).read_text() or "{}")
    return figures


def _path_child(pure: bool, items: int, rounds: int, fresh: bool) -> dict[str, Any]:
    argv = ["loadtest.pathbench", "--items", str(items), "--rounds", str(rounds)]
    return _spawn(pure, [*argv, *(["--fresh"] if fresh else []), "--json"])


def _check(report: dict[str, Any], pure: bool) -> None:
    if pure and (report["mode"], report["compiled"]) != ("pure", []):
        raise SystemExit(f"a pure child ran {report['mode']}: {report['compiled']}")
    if not pure and report["compiled"] != native.compiled_names():
        raise SystemExit("the compiled build is not there for these sources: run `make install`")


def _best(reports: list[dict[str, float]]) -> dict[str, float]:
    return {k: min(r[k] for r in reports) for k in reports[0]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    micro: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    stages: dict[tuple[bool, bool], list[dict[str, float]]] = {}
    answers: dict[bool, set[str]] = {False: set(), True: set()}  # by fresh
    child_argv = ["loadtest.nativebench", "--items", str(args.items), "--rounds", str(args.rounds)]
    for turn in range(args.children):
        for pure in (True, False) if turn % 2 == 0 else (False, True):
            report = _spawn(pure, [*child_argv, "--child"])
            _check(report, pure)
            micro[pure].append(report["us"])
            for fresh in (False, True):
                figures = _path_child(pure, args.items, args.rounds, fresh)
                stages.setdefault((pure, fresh), []).append(figures["stages"])
                answers[fresh].add(figures["answers"])
            build = "pure" if pure else "compiled"
            print(f"child {turn + 1}/{args.children} {build} done", file=sys.stderr)
    result: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "items": args.items, "rounds": args.rounds, "children": args.children,
        "micro": _compare(_best(micro[True]), _best(micro[False]), total=False),
        "pathbench": {},
    }  # fmt: skip
    for fresh in (False, True):
        label = "fresh batches" if fresh else "one batch"
        if len(answers[fresh]) != 1:  # the same batches, so the same answers in both builds
            raise SystemExit(f"pathbench answers differ between builds ({label})")
        pure_path, compiled_path = _best(stages[(True, fresh)]), _best(stages[(False, fresh)])
        result["pathbench"][label] = _compare(pure_path, compiled_path, total=True)
    return result


def _compare(pure: dict[str, float], compiled: dict[str, float], total: bool) -> dict[str, Any]:
    rows = {k: {"pure_us": pure[k], "compiled_us": compiled[k]} for k in pure}
    if total:
        rows["total"] = {"pure_us": sum(pure.values()), "compiled_us": sum(compiled.values())}
    for row in rows.values():
        row["ratio"] = row["pure_us"] / row["compiled_us"]
    return rows


def show(result: dict[str, Any]) -> None:
    print(f"{'domain function (µs per call)':<28} {'pure':>8} {'compiled':>9} {'ratio':>6}")
    for name, f in result["micro"].items():
        print(f"{name:<28} {f['pure_us']:8.2f} {f['compiled_us']:9.2f} {f['ratio']:6.2f}")
    for label, stages in result["pathbench"].items():
        print(f"\npathbench, {label} (µs per item)")
        for name, f in stages.items():
            print(f"{name:<28} {f['pure_us']:8.2f} {f['compiled_us']:9.2f} {f['ratio']:6.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15, help="timed runs per child")
    parser.add_argument("--children", type=int, default=4, help="children per build")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.items, args.seed, args.rounds)
        return
    result = run(args)
    show(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
