"""The verify path's per-item Python cost, by stage, with no server: `python -m loadtest.pathbench`.

A batch of 1,000 realistic claims against register records drawn by the seed's own generator
(:mod:`verify.adapters.seed_gen`; no database): most as `make bench` (e) sends them (the
register's name, birth date, gender, current card and a purpose), the rest as relying parties
write them (unaccented capitals, an airline booking name, a year only, a day and month
swapped, a wrong gender, an unknown ID). Each stage runs the project's own functions:

- parse: ``orjson.loads`` of the batch body, then ``parse_item`` per item (HTTP layer);
- record: ``record_from_row`` from the row tuple RECORDS_SQL returns (the adapter's part);
- evaluate: ``evaluate`` per claim;
- audit: the audit entry per answer, the subject HMAC memo cleared first (a batch of random
  people over a large register misses it, as in (e));
- serialise: the answer per item and ``orjson.dumps`` of the response body.

With ``--fresh`` every round runs on another batch (other people, drawn from a population
of ``rounds x items``): the memos of names and dates then miss as they do in (e), where the
items are random people of a large register; without it the same batch is run every round
and every memo hits (the floor of each stage).

Each stage is timed ``--rounds`` times in this thread's CPU time (time spent waiting for a core
is not counted) and the best round is kept (the machine is shared: the minimum is the figure
least disturbed by others). A fixed pure-Python calibration loop is
timed the same way; ``cal`` columns are µs divided by its µs, so runs on machines or days of
different speed compare. Prints a table; ``--json`` writes the figures too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import orjson

from verify.adapters import pg, seed_cards
from verify.adapters.seed_gen import EPOCH, Population
from verify.domain.model import CitizenRecord, Claim, Outcome
from verify.domain.name_text import fold
from verify.domain.verdict import evaluate
from verify.http.routes import answer_all_items, parse_item
from verify.service.audit import RequestContext, subject_of
from verify.service.verification import Answer, audit_entries

TODAY = dt.date(2026, 6, 1)
PEOPLE = 20_000
HMAC_KEY = b"k" * 32
Row = tuple[object, ...]
# RECORDS_SQL's row is read by position: a tuple of the same columns stands for it
record_from_row = cast(Callable[[Row], CitizenRecord], pg.record_from_row)


def _day(days: int) -> dt.date:
    return dt.date.fromordinal(int(days) + EPOCH)


def register_rows(seed: int, n: int, chunk_index: int = 0) -> list[Row]:
    """RECORDS_SQL's rows (as tuples) for ``n`` people of a chunk of the seed's population."""
    pop = Population(seed, TODAY)
    chunk = pop.chunk(chunk_index, n)
    p, c, t = chunk.people, chunk.cards, pop.t
    given = [*t.male_names, *t.female_names]
    cards: dict[int, list[tuple[dt.date, dt.date | None, str]]] = {}
    for person, issue, expiry, status in zip(c.id_number, c.issue, c.expiry, c.status, strict=True):
        end = None if expiry == seed_cards.NEVER else _day(expiry)
        cards.setdefault(int(person), []).append(
            (_day(issue), end, seed_cards.STATUSES[int(status)])
        )
    rows: list[Row] = []
    for i in range(n):
        who = int(p.id_number[i])
        held = sorted(cards.get(who, []))
        columns = [list(col) for col in zip(*held, strict=True)] if held else [None, None, None]
        rows.append((
            who, f"{t.families[int(p.family[i])]} {given[int(p.given[i])]}", _day(p.birth[i]),
            bool(p.year_only[i]), b"F" if p.female[i] else b"M", bool(p.deceased[i]), 1, *columns,
        ))  # fmt: skip
    return rows


def _claim(record: CitizenRecord, kind: int, rng: random.Random) -> dict[str, object]:
    """A claim on ``record``: as (e) sends it, or one of the ways relying parties write it."""
    birth = record.birth.value
    claim: dict[str, object] = {
        "id_number": record.id_number,
        "full_name": record.full_name,
        "date_of_birth": str(birth.year) if record.birth.precision == "year" else birth.isoformat(),
        "gender": record.gender.value,
        "purpose": "bench",
    }
    if record.cards:
        claim["card_issue_date"] = record.cards[-1].issue_date.isoformat()
    if kind == 1:  # a bank's core system: unaccented capitals
        claim["full_name"] = fold(record.full_name).upper()
    elif kind == 2:  # an airline booking
        family, _, rest = fold(record.full_name).upper().partition(" ")
        claim["booking_name"] = f"{family}/{rest} MR"
        claim["reference"] = f"PNR{rng.randrange(10**6):06d}"
    elif kind == 3:  # the year only
        claim["date_of_birth"] = str(birth.year)
    elif kind == 4 and birth.day <= 12:  # day and month swapped
        claim["date_of_birth"] = f"{birth.year:04d}-{birth.day:02d}-{birth.month:02d}"
    elif kind == 5:  # another gender
        claim["gender"] = "female" if record.gender.value == "male" else "male"
    elif kind == 6:  # nobody has this number
        claim["id_number"] = "001099" + f"{rng.randrange(10**6):06d}"
    return claim


def batch(records: list[CitizenRecord], items: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    kinds = [0] * 14 + [1, 1, 2, 3, 4, 5, 6]  # two in three as (e) sends them
    return [_claim(r, rng.choice(kinds), rng) for r in rng.sample(records, items)]


def calibrate() -> None:
    """A fixed mix of what the path does in Python: calls, small objects, dicts, strings."""
    words = [f"w{i}" for i in range(64)]
    for i in range(20_000):
        d = {"a": i, "b": words[i & 63]}
        t = (d["a"], d.get("b"), len(words[i & 31]))
        " ".join(words[: (i & 7) + 1]).casefold().split()
        isinstance(t, tuple)


@dataclass
class Stage:
    name: str
    run: Callable[[], object]
    per: int  # items per run


def best_us(fn: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.thread_time_ns()
        fn()
        best = min(best, time.thread_time_ns() - start)
    return best / 1e3


class Inputs:
    """One batch's inputs to every stage: its body, claims, their records and answers."""

    def __init__(self, rows: list[Row], body: bytes) -> None:
        records = {r.id_number: r for r in (record_from_row(row) for row in rows)}
        self.body = body
        self.parsed = [
            parse_item(item, ("index", i)) for i, item in enumerate(orjson.loads(body)["items"])
        ]
        self.claims = [p for p in self.parsed if isinstance(p, Claim)]
        found = [records.get(c.id_number) for c in self.claims]
        self.outcomes: list[Answer] = [
            evaluate(c, r, TODAY) for c, r in zip(self.claims, found, strict=True)
        ]
        self.found = found
        self.pairs = list(zip(self.claims, found, strict=True))
        self.rows = rows[: len(self.claims)]


def stages(batches: list[Inputs]) -> list[Stage]:
    """The stages; each run takes the next batch (one batch: the same every run)."""
    ctx = RequestContext(1, "bench-request", "batch_item", dt.datetime.now(dt.UTC), "key")
    turn = {name: 0 for name in ("parse", "record", "evaluate", "audit", "serialise")}

    def next_batch(stage: str) -> Inputs:
        turn[stage] += 1
        return batches[turn[stage] % len(batches)]

    def parse() -> object:
        items = orjson.loads(next_batch("parse").body)["items"]
        return [parse_item(item, ("index", i)) for i, item in enumerate(items)]

    def record() -> object:
        return [record_from_row(row) for row in next_batch("record").rows]

    def evaluate_all() -> object:
        return [evaluate(c, r, TODAY) for c, r in next_batch("evaluate").pairs]

    def audit() -> object:
        subject_of.cache_clear()
        b = next_batch("audit")
        return audit_entries(b.claims, b.outcomes, b.found, ctx, HMAC_KEY, 1.0)

    def serialise() -> object:
        b = next_batch("serialise")
        results = answer_all_items(b.parsed, b.outcomes)
        return orjson.dumps({"request_id": "r", "results": results})

    n = len(batches[0].claims)
    return [
        Stage("parse", parse, n),
        Stage("record", record, len(batches[0].rows)),
        Stage("evaluate", evaluate_all, n),
        Stage("audit", audit, n),
        Stage("serialise", serialise, n),
    ]


def outcome_digest(outcomes: list[Outcome]) -> str:
    """A short fingerprint of the answers, so a before/after pair shows the same answers."""
    import hashlib

    return hashlib.sha256(orjson.dumps([str(o) for o in outcomes])).hexdigest()[:16]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--fresh", action="store_true", help="another batch (other people) every round"
    )
    args = parser.parse_args(argv)
    n_batches = 2 * args.rounds + 1 if args.fresh else 1  # warm-up runs take one each too
    rows = register_rows(args.seed, PEOPLE)
    others = register_rows(args.seed, (n_batches - 1) * args.items, 1) if args.fresh else []
    records = [record_from_row(row) for row in rows]
    batches = [Inputs(rows, orjson.dumps({"items": batch(records, args.items, args.seed)}))]
    for b in range(1, n_batches):  # the others: people of their own, none of the first's
        mine = others[(b - 1) * args.items : b * args.items]
        drawn = [record_from_row(row) for row in mine]
        batches.append(Inputs(mine, orjson.dumps({"items": batch(drawn, args.items, b)})))
    body = batches[0].body
    cal = best_us(calibrate, args.rounds)
    print(f"calibration loop {cal:,.0f} µs (best of {args.rounds}); 1 cal = that loop")
    print(f"{'stage':<10} {'µs/item':>9} {'cal/item x1000':>15}")
    out: dict[str, object] = {"calibration_us": cal, "items": args.items, "stages": {}}
    total = 0.0
    for stage in stages(batches):
        for _ in range(max(1, n_batches - args.rounds)):  # warm: memo tables, lazily built state
            stage.run()
        per_item = best_us(stage.run, args.rounds) / stage.per
        total += per_item
        out["stages"][stage.name] = per_item  # type: ignore[index]
        print(f"{stage.name:<10} {per_item:9.2f} {1000 * per_item / cal:15.3f}")
    print(f"{'total':<10} {total:9.2f} {1000 * total / cal:15.3f}")
    records_by_id = {r.id_number: r for r in records}
    parsed = [parse_item(item, ("index", 0)) for item in orjson.loads(body)["items"]]
    claims = [p for p in parsed if isinstance(p, Claim)]
    answers = [evaluate(c, records_by_id.get(c.id_number), TODAY) for c in claims]
    out["answers"] = outcome_digest(answers)
    print(f"answers fingerprint {out['answers']} ({len(claims)} claims)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
