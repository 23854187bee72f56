"""Use case of `verify worker`: run a job chunk by chunk, exactly once per line.

A chunk is one unit of work: claimed under a lock, verified through the same
verification service as a batch (one register lookup, one audit commit), and its
results, its audit rows and the job's progress committed in one transaction, only if
the chunk is not done yet. A worker killed anywhere loses the chunk's transaction and
nothing else; whoever runs the chunk next does all of it again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import math
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import orjson

from verify.domain.claims import parse_claim
from verify.domain.errors import ValidationError
from verify.domain.model import Claim, Outcome
from verify.domain.verdict import outcome_to_json
from verify.errors import TooManyAttempts
from verify.service.audit import RequestContext
from verify.service.job_input import PROBLEM_MARK
from verify.service.ports import Audit
from verify.service.verification import VerifyDeps, verify_audited

VERDICTS = ("match", "no_match", "not_found", "invalid")  # the job's counters
ProblemBody = Callable[[str, str, str | None], dict[str, object]]
Parsed = Claim | dict[str, object]  # a claim, or the problem object answering its line


class ClaimedChunk(Protocol):
    """A chunk locked for this worker inside an open transaction."""

    job_id: str
    agency_id: int
    key_id: str | None
    purpose: str
    chunk_no: int
    line_numbers: Sequence[int]
    lines: Sequence[bytes]

    @property
    def audit(self) -> Audit:
        """Audit rows written in the chunk's transaction."""
        ...

    async def complete(self, results: bytes, counts: dict[str, int]) -> bool:
        """Write results and advance progress; False (and nothing written) when the chunk
        was done meanwhile."""
        ...


class ChunkSource(Protocol):
    async def start(self, job_id: str) -> bool:
        """Mark the job running; False when it is not queued or running."""
        ...

    def claim(self, job_id: str) -> AbstractAsyncContextManager[ClaimedChunk | None]:
        """The next chunk no one holds and no one did, locked; None when none is left or
        the job is no longer running. Leaving the block commits if completed, else rolls
        back."""
        ...

    async def fail(self, job_id: str, error: str) -> None: ...


@dataclass(frozen=True)
class RunnerDeps:
    verify: VerifyDeps  # its audit is replaced by each chunk's own
    chunks: ChunkSource
    problem: ProblemBody
    on_chunk: Callable[[dict[str, int], float], None] = lambda counts, seconds: None
    on_refused: Callable[[int, int], None] = lambda agency_id, n: None  # probing limit


class SliceEnd(enum.Enum):
    INACTIVE = "inactive"  # not queued or running (done, cancelled, failed, or unknown)
    EXHAUSTED = "exhausted"  # no chunk left to claim: done, or others hold the last ones
    STOPPED = "stopped"  # stop asked or the slice's time is up: chunks remain


def _decode(number: int, raw: bytes, purpose: str, problem: ProblemBody) -> Parsed:
    if raw.startswith(PROBLEM_MARK):
        code = raw[1:].decode("ascii")
        detail = "this line is too long" if code == "body_too_large" else "this line is unreadable"
        return {"line": number, **problem(code, detail, None)}
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"line": number, **problem("invalid_json", "this line is not valid JSON", None)}
    if isinstance(item, dict):
        item["purpose"] = purpose  # the job's purpose is every line's
    try:
        return parse_claim(item)
    except ValidationError as e:
        return {"line": number, **problem(e.code, e.detail, e.field)}


def _refusal(number: int, claim: Claim, refused: TooManyAttempts, problem: ProblemBody) -> bytes:
    """A line refused by the probing limit: its problem in place, as a batch item's."""
    body = {"line": number, **problem(refused.code, refused.detail, None)}
    if refused.retry_after is not None:  # none when no wait would help (attempts_exceed_quota)
        body["retry_after"] = max(1, math.ceil(refused.retry_after))
    body["reference"] = claim.reference
    return orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE)


class _Lines:
    """A chunk's result lines as NDJSON bytes, byte for byte what ``orjson.dumps({"line": n,
    **outcome_to_json(o), "reference": r})`` gives. The JSON of an outcome is made once per
    distinct outcome in the chunk (a clean file's lines share a handful: all fields match,
    or one rule differs), so a line costs a dict lookup and one bytes format, not a dict
    merge and a full encode.

    Outcomes are found by the identity of their parts: the field results and card checks
    of the domain are shared values (hashing an Outcome runs a dozen Python-level
    ``__hash__`` calls of dataclasses and enums, ``id()`` none). The first outcome of each
    key is kept with its JSON, so its parts stay alive and no other object can take their
    ids while the chunk's lines are made; a part that is not shared only misses the memo."""

    def __init__(self) -> None:
        self._bodies: dict[tuple[object, ...], tuple[Outcome, bytes]] = {}

    def verdict(self, number: int, claim: Claim, outcome: Outcome) -> bytes:
        o = outcome
        key = (
            id(o.verdict), id(o.full_name), id(o.date_of_birth), id(o.gender), id(o.card),
            id(o.booking_name), o.reasons,
        )  # fmt: skip
        known = self._bodies.get(key)
        if known is None:  # '"verdict":…,"fields":{…},"reasons":[…]'
            known = self._bodies[key] = (o, orjson.dumps(outcome_to_json(o))[1:-1])
        ref = b"null" if claim.reference is None else orjson.dumps(claim.reference)
        return b'{"line":%d,%b,"reference":%b}\n' % (number, known[1], ref)


async def process_chunk(chunk: ClaimedChunk, deps: RunnerDeps) -> dict[str, int] | None:
    """Verify one claimed chunk; its verdict counts, or None when it was done meanwhile.

    Each line is one verify attempt on its person, charged to the job's agency like a batch
    item (the probing limit, VERIFY_SUBJECT_ATTEMPTS_PER_DAY); a refused line gets its
    ``too_many_attempts`` problem in place and counts as ``invalid`` (a line answered with a
    problem). A chunk run again after its transaction was lost is charged again: the limit
    errs towards refusing, never towards more attempts than it allows."""
    parsed = [
        _decode(n, raw, chunk.purpose, deps.problem)
        for n, raw in zip(chunk.line_numbers, chunk.lines, strict=True)
    ]
    claims = [p for p in parsed if isinstance(p, Claim)]
    ctx = RequestContext(
        chunk.agency_id, chunk.job_id, "job", deps.verify.now(), key_id=chunk.key_id,
        purpose=chunk.purpose,
    )  # fmt: skip
    verify = dataclasses.replace(deps.verify, audit=chunk.audit)
    outcomes = iter(await verify_audited(claims, ctx, verify))
    counts = dict.fromkeys(VERDICTS, 0)
    out: list[bytes] = []
    lines = _Lines()
    refused = 0
    for number, p in zip(chunk.line_numbers, parsed, strict=True):
        if not isinstance(p, Claim):
            counts["invalid"] += 1
            out.append(orjson.dumps(p, option=orjson.OPT_APPEND_NEWLINE))
            continue
        outcome = next(outcomes)
        if isinstance(outcome, TooManyAttempts):
            refused += 1
            counts["invalid"] += 1
            out.append(_refusal(number, p, outcome, deps.problem))
        else:
            counts[outcome.verdict.value] += 1
            out.append(lines.verdict(number, p, outcome))
    results = b"".join(out)
    counts = {verdict: n for verdict, n in counts.items() if n}
    if not await chunk.complete(results, counts):
        return None
    if refused:
        deps.on_refused(chunk.agency_id, refused)
    return counts


async def _chunk_loop(
    job_id: str, deps: RunnerDeps, stop: Callable[[], bool], deadline: float
) -> bool:
    """Process chunks until none is left (True) or stop/deadline (False)."""
    while not stop() and time.monotonic() < deadline:
        started = time.perf_counter()
        async with deps.chunks.claim(job_id) as chunk:
            if chunk is None:
                return True
            counts = await process_chunk(chunk, deps)
        if counts is not None:
            deps.on_chunk(counts, time.perf_counter() - started)
    return False


async def run_slice(
    job_id: str,
    deps: RunnerDeps,
    *,
    stop: Callable[[], bool],
    slice_s: float,
    concurrency: int,
) -> SliceEnd:
    """Work on a job for up to ``slice_s`` with ``concurrency`` chunks in flight (their
    database round trips overlap the verification of the others)."""
    if not await deps.chunks.start(job_id):
        return SliceEnd.INACTIVE
    deadline = time.monotonic() + slice_s
    async with asyncio.TaskGroup() as group:  # one loop failing stops the others
        loops = [
            group.create_task(_chunk_loop(job_id, deps, stop, deadline)) for _ in range(concurrency)
        ]
    return SliceEnd.EXHAUSTED if all(t.result() for t in loops) else SliceEnd.STOPPED
