"""The verification use case with in-memory ports: what it reads, audits and answers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import pytest

from tests.unit.service.fakes import NOW, TODAY, FakeAttempts, FakeAudit, FakeRegister, record
from verify.domain.model import Claim, Outcome, PartialDate, Verdict
from verify.errors import DatabaseUnavailable
from verify.service.audit import RequestContext, subject_of
from verify.service.verification import VerifyDeps, verify_audited

KEY = b"k" * 32
ANNA = "001190000001"
BINH = "001190000002"


def deps(register: FakeRegister, audit: FakeAudit) -> VerifyDeps:
    return VerifyDeps(
        register=register,
        audit=audit,
        hmac_key=KEY,
        today=lambda: TODAY,
        now=lambda: NOW,
        attempts=FakeAttempts(),
        attempts_per_day=50,
    )


def verdicts(outcomes: Sequence[object]) -> list[Verdict]:
    assert all(isinstance(o, Outcome) for o in outcomes)  # none refused by the probing limit
    return [o.verdict for o in outcomes if isinstance(o, Outcome)]


def ctx(kind: str = "verify") -> RequestContext:
    return RequestContext(7, "req-1", kind, NOW - dt.timedelta(milliseconds=3))


async def test_a_match_is_audited_with_the_persons_subject_before_it_is_answered() -> None:
    register, audit = FakeRegister([record(ANNA)]), FakeAudit()
    claim = Claim(ANNA, full_name="Nguyễn Văn An", birth=PartialDate(dt.date(1990, 5, 14)))
    outcomes = await verify_audited([claim], ctx(), deps(register, audit))
    assert verdicts(outcomes) == [Verdict.MATCH]
    [entry] = audit.entries
    assert entry.subject == subject_of(KEY, ANNA)
    assert (entry.agency_id, entry.request_id, entry.kind) == (7, "req-1", "verify")
    assert entry.verdict == "match" and entry.latency_ms == pytest.approx(3.0)


async def test_a_batch_is_one_read_and_one_audit_commit_in_claim_order() -> None:
    register, audit = FakeRegister([record(ANNA), record(BINH, "Trần Thị Bình")]), FakeAudit()
    claims = [Claim(BINH, full_name="Trần Thị Bình"), Claim("001190000099"), Claim(ANNA)]
    outcomes = await verify_audited(claims, ctx("batch_item"), deps(register, audit))
    assert verdicts(outcomes) == [Verdict.MATCH, Verdict.NOT_FOUND, Verdict.MATCH]
    assert register.reads == [sorted([ANNA, BINH, "001190000099"])]
    assert len(audit.commits) == 1
    subjects = [e.subject for e in audit.commits[0]]
    assert subjects == [subject_of(KEY, i) for i in (BINH, "001190000099", ANNA)]


async def test_a_former_id_is_resolved_and_audited_under_the_current_id() -> None:
    register = FakeRegister([record(ANNA)], formers={"011122233": ANNA})
    audit = FakeAudit()
    outcomes = await verify_audited(
        [Claim("011122233", full_name="Nguyễn Văn An"), Claim("099999999")],
        ctx(),
        deps(register, audit),
    )
    assert verdicts(outcomes) == [Verdict.MATCH, Verdict.NOT_FOUND]
    assert register.former_reads == [["011122233", "099999999"]]
    assert register.reads == [[ANNA]]
    # the person's current ID when known, else the number asked for: never the number itself
    assert [e.subject for e in audit.entries] == [
        subject_of(KEY, ANNA),
        subject_of(KEY, "099999999"),
    ]


async def test_no_audit_no_answer() -> None:
    register, audit = FakeRegister([record(ANNA)]), FakeAudit(fail=True)
    with pytest.raises(DatabaseUnavailable):
        await verify_audited([Claim(ANNA)], ctx(), deps(register, audit))


async def test_nothing_to_verify_reads_and_audits_nothing() -> None:
    register, audit = FakeRegister(), FakeAudit()
    assert await verify_audited([], ctx(), deps(register, audit)) == []
    assert audit.commits == [] and register.former_reads == []


async def test_the_probing_limit_never_depends_on_what_the_register_resolved() -> None:
    """26 claims on ANNA and 25 on a former ID the register resolves to ANNA, quota 50: if
    attempts were charged to the resolved person, all would be refused, telling the
    caller that the former ID is ANNA's. Charged as written, both stay within the quota."""
    register = FakeRegister([record(ANNA)], formers={"011122233": ANNA})
    audit = FakeAudit()
    limited = dataclasses.replace(deps(register, audit), attempts=FakeAttempts(left=50))
    claims = [Claim(ANNA, full_name="Lê Văn Bình")] * 26 + [
        Claim("011122233", full_name="Lê Văn Bình")
    ] * 25
    outcomes = await verify_audited(claims, ctx("batch_item"), limited)
    assert set(verdicts(outcomes)) == {Verdict.NO_MATCH}
