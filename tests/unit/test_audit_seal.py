"""The writer's sealing (``Chain.seal_entries``): the bytes it hashes are ``canonical`` of
the row as it is read back, and the rows it hands the INSERT carry the very same values.

``audit verify`` recomputes links with ``canonical`` from the stored rows; the writer
builds the canonical bytes and the INSERT rows in one pass of its own. These properties
hold the two together over generated entries (the integration tests then check the
INSERT against Postgres: tests/integration/test_audit_chain.py).
"""

from __future__ import annotations

import datetime as dt
import math
import struct
import uuid

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from verify.adapters import audit_chain
from verify.adapters.audit import _row
from verify.adapters.audit_chain import MICROS_PER_DAY, ZERO_LINK, Chain, canonical, link, micros
from verify.service.audit import AuditEntry

PROPERTY = settings(database=None, deadline=None, max_examples=100)
_F32 = struct.Struct(">f")

texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
optional_texts = st.none() | texts
latencies = st.none() | st.floats(width=32) | st.floats(min_value=-1e30, max_value=1e30)
times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)
entries = st.builds(
    AuditEntry,
    at=times,
    agency_id=st.integers(min_value=-(2**31), max_value=2**31 - 1),
    request_id=texts,
    kind=st.sampled_from(["verify", "batch_item", "stream", "lookup", "history"]),
    purpose=optional_texts,
    subject=st.binary(min_size=0, max_size=40),
    verdict=optional_texts,
    fields=st.none() | st.lists(texts, max_size=4).map(tuple),
    latency_ms=latencies,
    key_id=optional_texts,
    terminal=optional_texts,
)


def _single(value: float) -> float:
    single: float = _F32.unpack(_F32.pack(value))[0]
    return single


def _days(batch: list[AuditEntry]) -> list[list[AuditEntry]]:
    by_day: dict[int, list[AuditEntry]] = {}
    for e in batch:
        by_day.setdefault(micros(e.at) // MICROS_PER_DAY, []).append(e)
    return [by_day[day] for day in sorted(by_day)]


def _stored(e: AuditEntry) -> tuple[object, ...]:
    """The row as Postgres keeps it: a latency whose `real` is -0 (-0.0, or a tiny negative)
    goes through jsonb's numeric, which has no negative zero, and comes back as 0."""
    if e.latency_ms is not None and _single(e.latency_ms) == 0.0:  # -0.0, or rounds to it
        e = e._replace(latency_ms=0.0)
    return _row(e)


MIDNIGHT = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
ACROSS = [
    AuditEntry(MIDNIGHT - dt.timedelta(microseconds=1), 1, "r-1", "verify", None, b"\x01"),
    AuditEntry(MIDNIGHT, 1, "r-2", "verify", None, b"\x02"),
    AuditEntry(MIDNIGHT - dt.timedelta(microseconds=2), 1, "r-3", "verify", None, b"\x03"),
]


@PROPERTY
@given(st.lists(entries, min_size=1, max_size=12))
@example(ACROSS)
def test_links_are_those_verify_recomputes_from_the_rows(batch: list[AuditEntry]) -> None:
    chain = Chain()
    _, last, head = chain.seal_entries(batch)
    expected, number = ZERO_LINK, 0
    for group in _days(batch):
        number += 1
        expected = link(expected, chain.chain_id, number, [canonical(_stored(e)) for e in group])
    assert (last, head) == (number, expected)
    assert (chain.batch, chain.head) == (0, ZERO_LINK)  # the head moves only on advance


@PROPERTY
@given(st.lists(entries, min_size=1, max_size=12))
@example(ACROSS)
def test_the_insert_rows_carry_the_values_that_were_hashed(batch: list[AuditEntry]) -> None:
    chain = Chain(chain_id=uuid.uuid4(), batch=41, head=b"\x07" * 32)
    payload, last, head = chain.seal_entries(batch)
    rows = orjson.loads(payload)
    ordered = [e for group in _days(batch) for e in group]  # one batch per day, days in order
    assert len(rows) == len(ordered)
    for row, e in zip(rows, ordered, strict=True):
        at, agency, key, request, kind, purpose, subject, verdict, fields, latency = row[:10]
        assert dt.datetime.fromisoformat(at) == e.at
        assert (agency, key, request, kind, purpose, verdict, row[10]) == (
            e.agency_id, e.key_id, e.request_id, e.kind, e.purpose, e.verdict, e.terminal
        )  # fmt: skip
        assert subject == e.subject.hex()
        assert fields == (None if e.fields is None else list(e.fields))
        if e.latency_ms is None:
            assert latency is None
        elif math.isfinite(_single(e.latency_ms)):
            assert latency == _single(e.latency_ms)  # exactly the `real` that was hashed
        else:
            assert latency in ("NaN", "Infinity", "-Infinity")
    numbers = [row[11] for row in rows]
    assert numbers == sorted(numbers) and numbers[0] == 42 and numbers[-1] == last
    for i, row in enumerate(rows):  # the link on each batch's last row only
        is_last = i == len(rows) - 1 or rows[i + 1][11] != row[11]
        assert (row[12] is not None) == is_last
    assert rows[-1][12] == head.hex()


def test_non_finite_latencies_go_as_the_words_real_accepts() -> None:
    at = dt.datetime(2026, 11, 30, 1, tzinfo=dt.UTC)
    batch = [
        AuditEntry(at, 1, f"r-{i}", "verify", None, b"\x01", latency_ms=value)
        for i, value in enumerate([math.nan, math.inf, -math.inf])
    ]
    rows = orjson.loads(Chain().seal_entries(batch)[0])
    assert [r[9] for r in rows] == ["NaN", "Infinity", "-Infinity"]
    too_large = AuditEntry(at, 1, "r", "verify", None, b"\x01", latency_ms=1e300)
    with pytest.raises(OverflowError):  # no `real` holds it: sealing fails, the request 503s
        Chain().seal_entries([too_large])


def test_an_empty_tick_seals_nothing() -> None:
    chain = Chain()
    assert chain.seal_entries([]) == (b"[]", 0, ZERO_LINK)


def test_a_negative_zero_latency_is_hashed_as_the_zero_postgres_stores() -> None:
    at = dt.datetime(2026, 11, 30, 1, tzinfo=dt.UTC)
    batch = [AuditEntry(at, 1, f"r-{i}", "verify", None, b"\x01", latency_ms=v) for i, v in
             enumerate([-0.0, 0.0, -0.0])]  # fmt: skip
    audit_chain._float4.cache_clear()  # -0.0 first: a cache keyed by value would keep its sign
    chain = Chain()
    payload, _, head = chain.seal_entries(batch)
    rows = orjson.loads(payload)
    assert [math.copysign(1.0, r[9]) for r in rows] == [1.0, 1.0, 1.0]
    stored = [canonical(_row(e._replace(latency_ms=0.0))) for e in batch]
    assert head == link(ZERO_LINK, chain.chain_id, 1, stored)
    # read back from a COPY-written row (which keeps -0.0), the bits are -0.0's, cache or not
    assert canonical(_row(batch[0])) != canonical(_row(batch[1]))
