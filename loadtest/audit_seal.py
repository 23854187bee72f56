"""CPU of sealing audit rows into the hash chain, against serialising a verify answer
(orjson, what every batch item already costs) in the same run: absolute figures vary with
the machine's load, the ratio much less. "seal for the INSERT" is the writer's INSERT path
(``Chain.seal_entries``: links and the INSERT's JSON document from the entries), "seal for
the writer's COPY" its COPY path (``Chain.seal_records``), "seal for a job's COPY" the job
chunks' (``Chain.seal`` of the rows ``_row`` makes), "seal before" the writer's path at
``loadtest.audit_write.BEFORE`` (loaded from git), for 12 rows of distinct requests (about
what a commit of `make bench` (c) holds) and the 1,000 items of one batch request.

    .venv/bin/python -m loadtest.audit_seal
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import time
from collections.abc import Callable

import orjson

from loadtest.audit_write import BEFORE, _module_at
from verify.adapters.audit import _row
from verify.adapters.audit_chain import Chain
from verify.service.audit import AuditEntry

ROWS = 1000
ROUNDS = 200


def _best(work: Callable[[], object], rows: int = ROWS, rounds: int = ROUNDS) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best / rows * 1e6


def main() -> None:
    now = dt.datetime.now(dt.UTC)
    request_id, key_id = secrets.token_hex(16), secrets.token_hex(8)
    entries = [  # one batch request's items
        AuditEntry(
            at=now,
            agency_id=3,
            request_id=request_id,
            kind="batch_item",
            purpose="airport_checkin",
            subject=secrets.token_bytes(32),
            verdict="match" if i % 3 else "no_match",
            latency_ms=1.7,
            key_id=key_id,
        )
        for i in range(ROWS)
    ]
    singles = [  # single verifies of distinct requests
        e._replace(request_id=secrets.token_hex(16), kind="verify", latency_ms=1.7 + i / 7)
        for i, e in enumerate(entries[:12])
    ]
    chain = Chain()
    answer = {
        "verdict": "match", "reasons": [], "reference": "PNR-4XK2",
        "fields": {"full_name": {"result": "match", "rule": "exact"},
                   "date_of_birth": {"result": "match", "rule": "exact"},
                   "gender": {"result": "match"}, "card": {"result": "valid"}},
    }  # fmt: skip
    dumps = _best(lambda: [orjson.dumps(answer) for _ in entries])
    seal = _best(lambda: chain.seal_entries(entries))
    records = _best(lambda: chain.seal_records(entries))
    copy = _best(lambda: chain.seal([_row(e) for e in entries]))
    print(
        f"verify answer to JSON: {dumps:.2f} us/item; seal for the INSERT: {seal:.2f} us/row;"
        f" seal for the writer's COPY: {records:.2f} us/row; for a job's COPY: {copy:.2f}"
    )
    print(
        f"seal for the INSERT / answer JSON: {seal / dumps:.1f}x, for the writer's COPY:"
        f" {records / dumps:.1f}x, for a job's COPY: {copy / dumps:.1f}x (batches of {ROWS},"
        f" best of {ROUNDS})"
    )
    old = _module_at(BEFORE, "verify.adapters.audit_chain").Chain()
    for size, group in ((12, singles), (ROWS, entries)):
        now_us, before_us = float("inf"), float("inf")
        for _ in range(20):  # alternating: the machine's load weighs on both alike
            now_us = min(now_us, _best(functools.partial(chain.seal_entries, group), size, 10))
            before_us = min(before_us, _best(functools.partial(old.seal_entries, group), size, 10))
        print(
            f"{size} rows: seal now {now_us:.2f} us/row, at {BEFORE} {before_us:.2f} us/row:"
            f" {now_us / before_us:.2f}x"
        )


if __name__ == "__main__":
    main()
