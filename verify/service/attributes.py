"""Use cases: attribute lookup with a purpose, and a citizen's access history. Both audited or paged
from the audit, never answering unaudited."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from verify.domain.disclosure import Group, disclose, disclosed_fields
from verify.domain.errors import ValidationError
from verify.service.audit import AuditEntry, RequestContext, subject_of
from verify.service.ports import Audit, Citizens, HistoryRow

HISTORY_DAYS = 180
_FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class LookupDeps:
    citizens: Citizens
    audit: Audit
    hmac_key: bytes
    today: Callable[[], dt.date]
    now: Callable[[], dt.datetime]


async def lookup_citizen(
    id_number: str, groups: tuple[Group, ...], purpose: str, ctx: RequestContext, deps: LookupDeps
) -> dict[str, object] | None:
    """The asked groups of a person's attributes, or None; audited with the fields returned."""
    id12 = await deps.citizens.current_id(id_number)
    profile = await deps.citizens.profile(id12) if id12 else None
    entry = AuditEntry(
        at=ctx.started,
        agency_id=ctx.agency_id,
        request_id=ctx.request_id,
        kind="lookup",
        purpose=purpose,
        subject=subject_of(deps.hmac_key, id12 or id_number),
        verdict="found" if profile else "not_found",
        fields=disclosed_fields(groups) if profile else (),
        latency_ms=(deps.now() - ctx.started).total_seconds() * 1000,
    )
    await deps.audit.record([entry])
    return disclose(profile, groups, deps.today()) if profile else None


def encode_cursor(row: HistoryRow) -> str:
    raw = f"{row.at.isoformat()}|{row.seq}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[dt.datetime, int]:
    if not cursor:
        return _FAR_FUTURE, 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, seq = raw.split("|")
        when = dt.datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("naive time")
        when = when.astimezone(dt.UTC)  # OverflowError at the ends of the calendar
        number = int(seq)
        if not (0 <= number < 2**63 and dt.datetime(2000, 1, 1, tzinfo=dt.UTC) <= when):
            raise ValueError("out of range")
        return when, number
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            "invalid_field", "cursor is not one this API gave", "cursor"
        ) from None


def _item(row: HistoryRow) -> dict[str, object]:
    return {
        "agency": row.agency,
        "at": row.at.isoformat(),
        "kind": row.kind,
        "purpose": row.purpose,
        "verdict": row.verdict,
        "fields": list(row.fields) if row.fields else None,
    }


async def access_history(
    id_number: str, cursor: str | None, limit: int, deps: LookupDeps
) -> dict[str, object]:
    """Who verified or looked up this person in the last 180 days, newest first, paged."""
    before = decode_cursor(cursor)
    id12 = await deps.citizens.current_id(id_number)
    if id12 is None:
        return {"items": [], "next_cursor": None}
    since = deps.now() - dt.timedelta(days=HISTORY_DAYS)
    subject = subject_of(deps.hmac_key, id12)
    rows = await deps.citizens.history(subject, since, before, limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    return {
        "items": [_item(r) for r in page],
        "next_cursor": encode_cursor(page[-1]) if more else None,
    }
