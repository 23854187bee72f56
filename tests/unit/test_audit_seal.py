"""The writer's sealing (``Chain.seal_entries``): the bytes it hashes are ``canonical`` of
the row as it is read back, and the rows it hands the INSERT are those very bytes.

``audit verify`` recomputes links with ``canonical`` from the stored rows; the writer
builds the canonical bytes of its own (from the entries, no row). These properties hold
the two together over generated entries (the integration tests then check the INSERT
against Postgres: tests/integration/test_audit_insert.py, test_audit_chain.py).
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

from verify.adapters.audit import _row
from verify.adapters.audit_chain import (
    CHAIN_COLUMNS,
    COPY_COLUMNS,
    MICROS_PER_DAY,
    ZERO_LINK,
    Chain,
    _canonical_entry,
    _canonical_many,
    canonical,
    link,
    micros,
)
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
    """The row as Postgres keeps it: the latency as its `real` (a -0 keeps its sign), a NaN
    of any sign or payload as 'NaN'::real."""
    if e.latency_ms is not None and math.isnan(e.latency_ms):
        e = e._replace(latency_ms=math.nan)
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
    sealed = chain.seal_entries(batch)
    last, head = sealed.batch, sealed.head
    expected, number = ZERO_LINK, 0
    for group in _days(batch):
        number += 1
        expected = link(expected, chain.chain_id, number, [canonical(_stored(e)) for e in group])
    assert (last, head) == (number, expected)
    assert (chain.batch, chain.head) == (0, ZERO_LINK)  # the head moves only on advance


@PROPERTY
@given(st.lists(entries, min_size=1, max_size=12))
@example(ACROSS)
def test_the_insert_rows_are_the_bytes_that_were_hashed(batch: list[AuditEntry]) -> None:
    chain = Chain(chain_id=uuid.uuid4(), batch=41, head=b"\x07" * 32)
    sealed = chain.seal_entries(batch)
    groups = _days(batch)  # one batch per day, days in order
    ordered = [e for group in groups for e in group]
    assert sealed.rows == b"[" + b",".join(canonical(_stored(e)) for e in ordered) + b"]"
    assert orjson.loads(sealed.rows) == [orjson.loads(canonical(_stored(e))) for e in ordered]
    ends = [sum(len(g) for g in groups[: i + 1]) for i in range(len(groups))]
    assert sealed.ends == ends  # each batch's last row, where its link goes
    expected = b"\x07" * 32
    for number, group, got in zip(range(42, 42 + len(groups)), groups, sealed.links, strict=True):
        expected = link(expected, chain.chain_id, number, [canonical(_stored(e)) for e in group])
        assert got == expected
    assert (sealed.batch, sealed.head) == (41 + len(groups), expected)


def test_non_finite_latencies_go_as_the_bits_of_their_real() -> None:
    at = dt.datetime(2026, 11, 30, 1, tzinfo=dt.UTC)
    negative_nan = -struct.unpack(">d", b"\x7f\xf0\x00\x00\x00\x00\x00\x01")[0]
    batch = [
        AuditEntry(at, 1, f"r-{i}", "verify", None, b"\x01", latency_ms=value)
        for i, value in enumerate([math.nan, negative_nan, math.inf, -math.inf])
    ]
    rows = orjson.loads(Chain().seal_entries(batch).rows)
    # any NaN as the one 'NaN'::real stores (what audit_canonical then hashes)
    assert [r[9] for r in rows] == [0x7FC00000, 0x7FC00000, 0x7F800000, -0x800000]
    too_large = AuditEntry(at, 1, "r", "verify", None, b"\x01", latency_ms=1e300)
    with pytest.raises(OverflowError):  # no `real` holds it: sealing fails, the request 503s
        Chain().seal_entries([too_large])


def test_an_empty_tick_seals_nothing() -> None:
    chain = Chain()
    assert chain.seal_entries([]) == (b"[]", [], [], 0, ZERO_LINK)


def test_a_negative_zero_latency_keeps_its_sign() -> None:
    """The INSERT stores the `real` of the bits it is given: -0.0 stays -0.0, and its bits
    are hashed (audit_canonical of the stored row reads the same)."""
    at = dt.datetime(2026, 11, 30, 1, tzinfo=dt.UTC)
    batch = [AuditEntry(at, 1, f"r-{i}", "verify", None, b"\x01", latency_ms=v) for i, v in
             enumerate([-0.0, 0.0, -0.0, -1e-50])]  # fmt: skip
    chain = Chain()
    sealed = chain.seal_entries(batch)
    assert [r[9] for r in orjson.loads(sealed.rows)] == [-(2**31), 0, -(2**31), -(2**31)]
    stored = [canonical(_row(e)) for e in batch]
    assert sealed.head == link(ZERO_LINK, chain.chain_id, 1, stored)


def _from_record(record: tuple[object, ...]) -> AuditEntry:
    """The entry a COPY record stores (COPY_COLUMNS: `at` last of the entry's values, as
    microseconds since 2000)."""
    values = dict(zip(COPY_COLUMNS, record, strict=True))
    at = dt.datetime(2000, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=values.pop("at"))  # type: ignore[arg-type]
    return AuditEntry(at=at, **{k: v for k, v in values.items() if k not in CHAIN_COLUMNS})  # type: ignore[arg-type]


@PROPERTY
@given(st.lists(entries, min_size=1, max_size=12))
@example(ACROSS)
def test_copy_records_are_the_rows_that_were_hashed(batch: list[AuditEntry]) -> None:
    """The COPY path seals as the INSERT path does (the same links, the same head), and each
    record holds the row whose canonical bytes were hashed: `at` to the microsecond, the
    chain's id as its 16 bytes, the batch's number, its link on the batch's last row."""
    chain = Chain(chain_id=uuid.uuid4(), batch=41, head=b"\x07" * 32)
    sealed = chain.seal_records(batch)
    as_insert = chain.seal_entries(batch)
    assert (sealed.batch, sealed.head) == (as_insert.batch, as_insert.head)
    groups = _days(batch)
    ordered = [e for group in groups for e in group]
    assert len(sealed.records) == len(ordered)
    for record, e in zip(sealed.records, ordered, strict=True):
        stored = _from_record(record)
        assert stored.at == e.at
        assert canonical(_stored(stored)) == canonical(_stored(e))
        if e.latency_ms is not None and math.isnan(e.latency_ms):  # the one NaN of a `real`
            assert stored.latency_ms is not None and _F32.pack(stored.latency_ms) == _F32.pack(
                math.nan
            )
    chain_cols = [r[-3:] for r in sealed.records]
    ends = [sum(len(g) for g in groups[: i + 1]) for i in range(len(groups))]
    assert [i + 1 for i, c in enumerate(chain_cols) if c[2] is not None] == ends
    assert [chain_cols[end - 1][2] for end in ends] == as_insert.links
    numbers = [42 + i for i, g in enumerate(groups) for _ in g]
    assert chain_cols == [
        (chain.chain_id.bytes, n, chain_cols[i][2]) for i, n in enumerate(numbers)
    ]


def test_copy_of_nothing_seals_nothing() -> None:
    assert Chain().seal_records([]) == ([], 0, ZERO_LINK)


_AT = dt.datetime(2026, 11, 30, 1, tzinfo=dt.UTC)
_SIGNED_ZEROS = [
    AuditEntry(_AT, 1, "r", "batch_item", None, b"\x01", "match", latency_ms=0.0),
    AuditEntry(_AT, 1, "r", "batch_item", None, b"\x02", "match", latency_ms=-0.0),
    AuditEntry(_AT, 1, "r", "batch_item", None, None, None),  # type: ignore[arg-type]
    AuditEntry(_AT, 1, "r", "batch_item", None, b"\x03", None, terminal="k-1"),
]


@PROPERTY
@given(
    st.lists(entries, min_size=1, max_size=6),
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.none() | st.binary(max_size=40),
            optional_texts,
            latencies,
            optional_texts,
        ),
        max_size=40,
    ),
)
@example(_SIGNED_ZEROS, [])
def test_a_large_commit_renders_by_parts_the_same_bytes(
    base: list[AuditEntry],
    items: list[tuple[int, bytes | None, str | None, float | None, str | None]],
) -> None:
    """A batch's rows share all but their subject and verdict: rendered by parts, each row's
    canonical bytes are those of the row alone (a -0.0 latency beside a 0.0 keeps its bits,
    a row without subject or with trailing nulls is rendered right)."""
    batch = base + [
        base[i % len(base)]._replace(subject=s, verdict=v, latency_ms=lat, terminal=t)  # type: ignore[arg-type]
        for i, s, v, lat, t in items
    ]
    assert _canonical_many(batch) == [_canonical_entry(e) for e in batch]
    assert [c for _, c in _canonical_many(batch)] == [canonical(_stored(e)) for e in batch]
