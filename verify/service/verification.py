"""Use case: verify claims against the register, and audit every answer before it leaves.

One call to the register port per request, whatever the number of claims: former
CMND numbers are resolved together, then every record is read together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat

from verify.domain.id_number import FORMER_ID_LENGTH
from verify.domain.model import CitizenRecord, Claim, Outcome, Verdict
from verify.domain.verdict import evaluate
from verify.errors import PurposeNotAllowed, TooManyAttempts
from verify.service.attempts import AttemptLimiter, charge_attempts
from verify.service.audit import AuditEntry, RequestContext, subject_of
from verify.service.auth import purpose_allowed
from verify.service.ports import Audit, Register

REFUSED = "too_many_attempts"  # the audit verdict of an attempt refused by the probing limit


@dataclass(frozen=True)
class VerifyDeps:
    register: Register
    audit: Audit
    hmac_key: bytes
    today: Callable[[], dt.date]
    now: Callable[[], dt.datetime]
    attempts: AttemptLimiter
    attempts_per_day: int


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


Answer = Outcome | TooManyAttempts  # a verdict, or the probing limit's refusal


async def lookup_claims(claims: Sequence[Claim], register: Register) -> list[CitizenRecord | None]:
    """Each claim's record (None: nobody has its number), in claim order; one read."""
    ids = [c.id_number for c in claims]
    if FORMER_ID_LENGTH in map(len, ids):  # former IDs: resolved first
        records = await fetch_records(ids, register)
    else:  # 12-digit IDs only (a batch's usual): each is its own key
        records = await register.get_many(set(ids))
    return list(map(records.get, ids))


async def verify_claims(
    claims: Sequence[Claim], *, register: Register, today: dt.date
) -> list[tuple[Outcome, CitizenRecord | None]]:
    found = await lookup_claims(claims, register)
    return list(zip(map(evaluate, claims, found, repeat(today)), found, strict=True))


async def limit_attempts(
    claims: Sequence[Claim], outcomes: list[Outcome], ctx: RequestContext, deps: VerifyDeps
) -> list[Answer]:
    """Charge the probing limit per claimed ID number; a refused claim's outcome never
    leaves. The ID is charged as the caller wrote it, never as the register resolved it:
    a refusal that depended on the register would tell which person a former ID (CMND)
    belongs to (26 claims on X and 25 on Y all refused iff Y is X's former number)."""
    subjects = [c.id_number for c in claims]
    refusals = await charge_attempts(ctx.agency_id, subjects, deps.attempts, deps.attempts_per_day)
    answers: list[Answer] = list(outcomes)
    if any(refusals):  # rare: the outcomes of the refused claims replaced by their refusal
        for i, refused in enumerate(refusals):
            if refused is not None:
                answers[i] = refused
    return answers


_new_entry = tuple.__new__  # AuditEntry by position in one C call (its __new__ is Python)
_VERDICT_TEXT = {verdict: verdict.value for verdict in Verdict}  # .value is a Python property


def audit_entries(
    claims: Sequence[Claim],
    answers: Sequence[Answer],
    found: Sequence[CitizenRecord | None],
    ctx: RequestContext,
    hmac_key: bytes,
    latency_ms: float,
) -> list[AuditEntry]:
    """One audit entry per answer, in claim order: its subject is the person the claim is
    about (the register's 12-digit number when it resolved), its purpose the claim's or the
    request's. One loop, the fields in AuditEntry's order: this runs for every batch item."""
    started, agency_id, request_id, kind = ctx.started, ctx.agency_id, ctx.request_id, ctx.kind
    purpose, key_id, subject, text = ctx.purpose, ctx.key_id, subject_of, _VERDICT_TEXT
    return [
        _new_entry(
            AuditEntry,
            (
                started,
                agency_id,
                request_id,
                kind,
                claim.purpose or purpose,
                subject(hmac_key, claim.id_number if record is None else record.id_number),
                REFUSED if isinstance(answer, TooManyAttempts) else text[answer.verdict],
                None,  # fields: a verify discloses none
                latency_ms,
                key_id,
                claim.terminal,
            ),
        )
        for claim, answer, record in zip(claims, answers, found, strict=True)
    ]


async def verify_audited(
    claims: Sequence[Claim], ctx: RequestContext, deps: VerifyDeps
) -> list[Answer]:
    """Verify, then return only once the audit rows of every answer are committed.

    Every claim's purpose must be one of the key's (the HTTP layer answers those that are
    not with their problem before calling this). Refused attempts are audited too
    (verdict ``too_many_attempts``): probing shows in the person's access history."""
    # each purpose the claims state, once (a batch states one or two, for a thousand items)
    stated = {c.purpose for c in claims} if ctx.purposes else ()
    if not all(purpose_allowed(ctx.purposes, purpose) for purpose in stated):
        raise PurposeNotAllowed("this API key may not be used for this purpose")
    found = await lookup_claims(claims, deps.register)
    outcomes = list(map(evaluate, claims, found, repeat(deps.today())))  # no frame per item
    answers = await limit_attempts(claims, outcomes, ctx, deps)
    latency_ms = (deps.now() - ctx.started).total_seconds() * 1000
    entries = audit_entries(claims, answers, found, ctx, deps.hmac_key, latency_ms)
    if entries:
        await deps.audit.record(entries)
    return answers
