"""Use case: verify claims against the register, and audit every answer before it leaves.

One call to the register port per request, whatever the number of claims: former
CMND numbers are resolved together, then every record is read together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verify.domain.id_number import FORMER_ID_LENGTH
from verify.domain.model import CitizenRecord, Claim, Outcome
from verify.domain.verdict import evaluate
from verify.service.audit import AuditEntry, RequestContext, subject_of
from verify.service.ports import Audit, Register


@dataclass(frozen=True)
class VerifyDeps:
    register: Register
    audit: Audit
    hmac_key: bytes
    today: Callable[[], dt.date]
    now: Callable[[], dt.datetime]


async def resolve_ids(ids: Sequence[str], register: Register) -> dict[str, str]:
    """Map every requested ID to its 12-digit personal ID (former IDs via the register)."""
    former = [i for i in ids if len(i) == FORMER_ID_LENGTH]
    resolved = await register.resolve_former(former) if former else {}
    return {i: resolved.get(i, "") if len(i) == FORMER_ID_LENGTH else i for i in ids}


async def fetch_records(ids: Sequence[str], register: Register) -> dict[str, CitizenRecord]:
    """Records keyed by the requested ID (12- or 9-digit); unknown IDs are absent."""
    current = await resolve_ids(ids, register)
    records = await register.get_many({c for c in current.values() if c})
    return {i: records[c] for i, c in current.items() if c in records}


async def verify_claims(
    claims: Sequence[Claim], *, register: Register, today: dt.date
) -> list[tuple[Outcome, CitizenRecord | None]]:
    records = await fetch_records([c.id_number for c in claims], register)
    found = [records.get(claim.id_number) for claim in claims]
    return [(evaluate(c, r, today), r) for c, r in zip(claims, found, strict=True)]


def _entry(
    ctx: RequestContext, claim: Claim, outcome: Outcome, record: CitizenRecord | None,
    hmac_key: bytes, latency_ms: float,
) -> AuditEntry:  # fmt: skip
    subject = record.id_number if record is not None else claim.id_number
    return AuditEntry(
        at=ctx.started,
        agency_id=ctx.agency_id,
        request_id=ctx.request_id,
        kind=ctx.kind,
        purpose=claim.purpose,
        subject=subject_of(hmac_key, subject),
        verdict=outcome.verdict.value,
        latency_ms=latency_ms,
    )


async def verify_audited(
    claims: Sequence[Claim], ctx: RequestContext, deps: VerifyDeps
) -> list[Outcome]:
    """Verify, then return only once the audit rows of every answer are committed."""
    answered = await verify_claims(claims, register=deps.register, today=deps.today())
    latency_ms = (deps.now() - ctx.started).total_seconds() * 1000
    entries = [
        _entry(ctx, claim, outcome, record, deps.hmac_key, latency_ms)
        for claim, (outcome, record) in zip(claims, answered, strict=True)
    ]
    if entries:
        await deps.audit.record(entries)
    return [outcome for outcome, _ in answered]
