"""The attribute lookup and the access history with in-memory ports."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.service.fakes import NOW, TODAY, FakeAudit, FakeCitizens, record
from verify.domain.disclosure import CitizenProfile, Group
from verify.errors import DatabaseUnavailable
from verify.service.attributes import (
    HISTORY_DAYS,
    LookupDeps,
    access_history,
    decode_cursor,
    lookup_citizen,
)
from verify.service.audit import RequestContext, subject_of
from verify.service.ports import HistoryRow

KEY = b"h" * 32
ANNA = "001190000001"


def deps(citizens: FakeCitizens, audit: FakeAudit) -> LookupDeps:
    return LookupDeps(
        citizens=citizens, audit=audit, hmac_key=KEY, today=lambda: TODAY, now=lambda: NOW
    )


CTX = RequestContext(3, "req-9", "lookup", NOW)
HISTORY_CTX = RequestContext(3, "req-10", "history", NOW, key_id="k1", purpose="kyc")
PROFILE = CitizenProfile(record=record(ANNA), province_code="001", address="Thôn 3, xã X")


async def test_a_lookup_discloses_the_asked_groups_and_audits_the_fields() -> None:
    citizens, audit = FakeCitizens([PROFILE]), FakeAudit()
    found = await lookup_citizen(ANNA, (Group.BASIC,), "kyc", CTX, deps(citizens, audit))
    assert found is not None and set(found) == {"id_number", "basic"}
    assert found["basic"] == {
        "full_name": "Nguyễn Văn An",
        "date_of_birth": "1990-05-14",
        "gender": "male",
    }
    [entry] = audit.entries
    assert entry.subject == subject_of(KEY, ANNA) and entry.purpose == "kyc"
    assert entry.verdict == "found" and entry.fields == ("full_name", "date_of_birth", "gender")


async def test_an_unknown_person_is_audited_as_not_found_with_no_fields() -> None:
    citizens, audit = FakeCitizens(), FakeAudit()
    assert (
        await lookup_citizen("099999999", (Group.BASIC,), "kyc", CTX, deps(citizens, audit)) is None
    )
    [entry] = audit.entries
    assert entry.verdict == "not_found" and entry.fields == ()
    assert entry.subject == subject_of(KEY, "099999999")


async def test_no_audit_no_attributes() -> None:
    citizens, audit = FakeCitizens([PROFILE]), FakeAudit(fail=True)
    with pytest.raises(DatabaseUnavailable):
        await lookup_citizen(ANNA, (Group.BASIC,), "kyc", CTX, deps(citizens, audit))


def _row(seq: int, days_ago: float) -> HistoryRow:
    return HistoryRow(seq, NOW - dt.timedelta(days=days_ago), "bank", "verify", None, "match", None)


async def test_history_pages_newest_first_within_180_days() -> None:
    rows = [_row(1, 200), _row(2, 10), _row(3, 5), _row(4, 1)]
    citizens = FakeCitizens([PROFILE], history=rows)
    audit = FakeAudit()
    first = await access_history(ANNA, None, 2, HISTORY_CTX, deps(citizens, audit))
    items = first["items"]
    assert isinstance(items, list) and len(items) == 2
    assert first["next_cursor"] is not None
    cursor = first["next_cursor"]
    assert isinstance(cursor, str)
    second = await access_history(ANNA, cursor, 2, HISTORY_CTX, deps(citizens, audit))
    assert second["next_cursor"] is None and len(second["items"]) == 1  # type: ignore[arg-type]
    subject, since, _, limit = citizens.history_asks[0]
    assert subject == subject_of(KEY, ANNA) and limit == 3
    assert since == NOW - dt.timedelta(days=HISTORY_DAYS)
    assert decode_cursor(cursor) == (rows[2].at, 3)
    # reading the history is itself an access, audited under the caller's purpose
    assert [(e.kind, e.purpose, e.subject) for e in audit.entries] == [
        ("history", "kyc", subject_of(KEY, ANNA))
    ] * 2


async def test_history_of_an_unknown_former_id_is_empty_without_a_query() -> None:
    citizens = FakeCitizens()
    audit = FakeAudit()
    page = await access_history("099999999", None, 10, HISTORY_CTX, deps(citizens, audit))
    assert page == {"items": [], "next_cursor": None}
    assert citizens.history_asks == []
    [entry] = audit.entries
    assert entry.verdict == "not_found" and entry.subject == subject_of(KEY, "099999999")
