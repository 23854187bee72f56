"""The worker's use case with in-memory fakes: results per line, audit through the chunk,
a chunk done meanwhile writes nothing, a job no longer running stops the loops."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import orjson

from tests.cases import AN, CASES, REGISTER, TODAY
from verify.domain.gcra import Decision, Quota
from verify.domain.model import (
    CardCheck,
    CardResult,
    CitizenRecord,
    Claim,
    FieldOutcome,
    FieldResult,
    Outcome,
    Verdict,
)
from verify.domain.verdict import outcome_to_json
from verify.http.problems import problem_body
from verify.service.audit import AuditEntry
from verify.service.job_input import TOO_LONG
from verify.service.job_runner import RunnerDeps, SliceEnd, _Lines, run_slice
from verify.service.verification import VerifyDeps
from verify.worker import ChunkAuditOnly

NOW = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)


class FakeLookup:
    def __init__(self) -> None:
        self.records = {e.record.id_number: e.record for e in REGISTER}
        self.formers = {f: e.record.id_number for e in REGISTER for f in e.former_ids}
        self.calls = 0

    async def get_many(self, ids: Collection[str]) -> dict[str, CitizenRecord]:
        self.calls += 1
        return {i: self.records[i] for i in ids if i in self.records}

    async def resolve_former(self, former_ids: Collection[str]) -> dict[str, str]:
        return {i: self.formers[i] for i in former_ids if i in self.formers}

    async def aclose(self) -> None:
        return None


@dataclass
class FakeAttempts:
    """The probing limit in memory: ``quota.count`` attempts per agency and person, never
    regained (a test runs well within a day)."""

    spent: Counter[tuple[int, str]] = field(default_factory=Counter)

    async def spend(
        self, agency_id: int, costs: Mapping[str, int], quota: Quota
    ) -> dict[str, Decision]:
        decisions = {}
        for subject, cost in costs.items():
            allowed = self.spent[agency_id, subject] + cost <= quota.count
            if allowed:
                self.spent[agency_id, subject] += cost
            decisions[subject] = Decision(allowed, 0, 0 if allowed else 3_600_000_000)
        return decisions


@dataclass
class FakeChunk:
    chunk_no: int
    line_numbers: Sequence[int]
    lines: Sequence[bytes]
    source: FakeSource
    job_id: str = "job-1"
    agency_id: int = 7
    key_id: str | None = "0123456789abcdef"
    purpose: str = "kyc_refresh"
    rows: list[AuditEntry] = field(default_factory=list)

    @property
    def audit(self) -> FakeChunk:
        return self

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        self.rows.extend(entries)

    async def complete(self, results: bytes, counts: dict[str, int]) -> bool:
        if self.chunk_no in self.source.done:
            return False
        self.source.done[self.chunk_no] = (results, counts)
        self.source.audit.extend(self.rows)
        return True


@dataclass
class FakeSource:
    chunks: list[tuple[list[int], list[bytes]]]
    running: bool = True
    done: dict[int, tuple[bytes, dict[str, int]]] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    done_by_another: set[int] = field(default_factory=set)

    async def start(self, job_id: str) -> bool:
        return self.running

    @asynccontextmanager
    async def claim(self, job_id: str) -> AsyncIterator[FakeChunk | None]:
        todo = [n for n in range(len(self.chunks)) if n not in self.done]
        if not self.running or not todo:
            yield None
            return
        n = todo[0]
        if n in self.done_by_another:  # finished elsewhere after our claim read it
            self.done[n] = (b"theirs", {})
        yield FakeChunk(n, *self.chunks[n], source=self)

    async def fail(self, job_id: str, error: str) -> None:
        self.running = False


def _deps(
    source: FakeSource, lookup: FakeLookup, attempts: FakeAttempts | None = None, per_day: int = 50
) -> RunnerDeps:
    verify = VerifyDeps(
        lookup, ChunkAuditOnly(), b"k" * 32, lambda: TODAY, lambda: NOW,
        attempts=attempts or FakeAttempts(), attempts_per_day=per_day,
    )  # fmt: skip
    return RunnerDeps(verify, source, problem_body)


async def _run(source: FakeSource, lookup: FakeLookup | None = None) -> SliceEnd:
    return await run_slice(
        "job-1", _deps(source, lookup or FakeLookup()), stop=lambda: False, slice_s=30,
        concurrency=2,
    )  # fmt: skip


async def test_every_line_answered_with_its_number_and_audited_with_the_job_id() -> None:
    bodies = [orjson.dumps(c.body) for c in CASES[:6]]
    source = FakeSource([([1, 2, 4], bodies[:3]), ([5, 6, 7, 8], [*bodies[3:], TOO_LONG])])
    lookup = FakeLookup()
    assert await _run(source, lookup) is SliceEnd.EXHAUSTED
    results = [orjson.loads(line) for n in (0, 1) for line in source.done[n][0].splitlines()]
    assert [r["line"] for r in results] == [1, 2, 4, 5, 6, 7, 8]
    for case, result in zip(CASES[:6], results, strict=False):
        result.pop("line"), result.pop("reference")
        assert result == case.expected, case.name
    assert results[-1]["code"] == "body_too_large"
    assert lookup.calls == 2  # one register lookup per chunk
    assert len(source.audit) == 6
    assert {(e.request_id, e.kind, e.purpose, e.agency_id, e.key_id) for e in source.audit} == {
        ("job-1", "job", "kyc_refresh", 7, "0123456789abcdef")
    }
    assert sum(source.done[1][1].values()) == 4 and source.done[1][1]["invalid"] == 1


async def test_a_chunk_done_meanwhile_writes_nothing() -> None:
    body = orjson.dumps({"id_number": AN, "full_name": "Nguyễn Văn An"})
    source = FakeSource([([1], [body]), ([2], [body])], done_by_another={0})
    assert await _run(source) is SliceEnd.EXHAUSTED
    assert source.done[0] == (b"theirs", {})
    assert len(source.audit) == 1  # chunk 1 only


async def test_a_job_no_longer_running_is_left_alone() -> None:
    source = FakeSource([([1], [b"{}"])], running=False)
    assert await _run(source) is SliceEnd.INACTIVE
    assert source.done == {}


async def test_stop_ends_the_slice_at_a_chunk_boundary() -> None:
    body = orjson.dumps({"id_number": AN, "gender": "male"})
    source = FakeSource([([n], [body]) for n in range(1, 6)])
    deps = _deps(source, FakeLookup())
    end = await run_slice("job-1", deps, stop=lambda: len(source.done) >= 2, slice_s=30,
                          concurrency=1)  # fmt: skip
    assert end is SliceEnd.STOPPED and len(source.done) == 2
    assert len(source.audit) == 2


async def test_the_jobs_purpose_is_every_lines() -> None:
    body = orjson.dumps({"id_number": AN, "gender": "male", "purpose": "something_else"})
    source = FakeSource([([1], [body])])
    await _run(source)
    assert [e.purpose for e in source.audit] == ["kyc_refresh"]


async def test_each_line_is_an_attempt_and_a_refused_line_gets_its_problem_in_place() -> None:
    attempts = FakeAttempts()
    attempts.spent[7, AN] = 1  # the agency verified this person once already today
    body = orjson.dumps({"id_number": AN, "gender": "male", "reference": "r-1"})
    other = orjson.dumps({"id_number": "079190004321", "gender": "male"})  # someone else
    source = FakeSource([([1, 2], [body, other]), ([3], [body])])
    refused: list[tuple[int, int]] = []
    deps = _deps(source, FakeLookup(), attempts, per_day=2)
    deps = RunnerDeps(
        deps.verify, source, problem_body, on_refused=lambda a, n: refused.append((a, n))
    )
    assert await run_slice("job-1", deps, stop=lambda: False, slice_s=30, concurrency=1) is (
        SliceEnd.EXHAUSTED
    )
    first = [orjson.loads(line) for line in source.done[0][0].splitlines()]
    [last] = [orjson.loads(line) for line in source.done[1][0].splitlines()]
    assert first[0]["verdict"] == "match" and first[0]["reference"] == "r-1"
    assert "code" not in first[1]
    assert last["line"] == 3 and last["code"] == "too_many_attempts" and last["status"] == 429
    assert last["reference"] == "r-1" and last["retry_after"] == 3600
    assert "verdict" not in last and "fields" not in last  # a refused line tells nothing
    assert source.done[1][1] == {"invalid": 1}
    assert refused == [(7, 1)]
    assert attempts.spent[7, AN] == 2
    assert [e.verdict for e in source.audit][-1] == "too_many_attempts"  # probing is audited


async def test_result_lines_are_exactly_the_json_of_their_answers() -> None:
    """The outcome's JSON is made once per distinct outcome of a chunk and the line around it
    by hand: each line must still be the JSON object, key order and bytes, that encoding
    ``{"line": n, **outcome_to_json(o), "reference": r}`` gives."""
    references = [None, 'ref "7" \\ ✓', "đơn-2026/11", None]
    bodies = [
        orjson.dumps({**c.body, **({"reference": r} if r is not None else {})})
        for n, c in enumerate(CASES)
        for r in [references[n % len(references)]]
    ]
    source = FakeSource([(list(range(1, len(bodies) + 1)), bodies)])
    assert await _run(source) is SliceEnd.EXHAUSTED
    lines = source.done[0][0].splitlines(keepends=True)
    assert len(lines) == len(CASES)
    verdicts = 0
    for n, (case, raw) in enumerate(zip(CASES, lines, strict=True)):
        result = orjson.loads(raw)
        assert orjson.dumps(result) + b"\n" == raw, case.name
        assert result["line"] == n + 1
        if "verdict" in result:
            verdicts += 1
            assert list(result) == ["line", "verdict", "fields", "reasons", "reference"]
            given = references[n % len(references)]
            assert result["reference"] == (given or case.body.get("reference"))
    assert verdicts > len(CASES) // 2


def test_result_lines_hold_each_outcomes_json_whatever_its_parts_are() -> None:
    """Outcomes are memoised by the identity of their parts: shared parts hit, equal but
    distinct parts (or other values) each get their own JSON, never another outcome's."""
    shared, also_match = FieldResult(FieldOutcome.MATCH), FieldResult(FieldOutcome.MATCH)
    no, card = FieldResult(FieldOutcome.NO_MATCH), CardCheck(CardResult.VALID)
    outcomes = [
        Outcome(Verdict.MATCH, shared, shared, shared, card, None, ()),
        Outcome(Verdict.MATCH, shared, shared, shared, card, None, ()),
        Outcome(Verdict.MATCH, also_match, shared, shared, card, None, ()),
        Outcome(Verdict.NO_MATCH, no, shared, shared, card, None, ("full_name",)),
        Outcome(Verdict.NO_MATCH, no, shared, shared, card, shared, ("full_name",)),
        Outcome(Verdict.NOT_FOUND),
    ]
    lines = _Lines()
    for n, outcome in enumerate(outcomes * 2):
        claim = Claim("001090000001", "An", reference=None if n % 2 else f"r{n}")
        expected = {"line": n, **outcome_to_json(outcome), "reference": claim.reference}
        assert lines.verdict(n, claim, outcome) == orjson.dumps(expected) + b"\n"
    assert len(lines._bodies) == 5  # the second outcome shares the first's entry
