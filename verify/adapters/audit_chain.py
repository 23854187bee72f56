"""The audit's hash chains: canonical bytes of a row, the link of a batch, a writer's chain.

Every group commit of a writer appends one link (per UTC day its rows fall on) to that
writer's chain (migration 006 has the definition):

    link(n) = SHA-256(link(n-1) || chain id (16 bytes) || n (8 bytes, big-endian)
                      || canonical(row) + b"\\n" for each row of batch n, in COPY order)

``canonical`` is the one place that says which columns a link covers and how: a compact
JSON array of the values of ``CANON_COLUMNS`` in that order (NULL as null), trailing
nulls left out; times as integer microseconds since 1970 UTC, bytes as lowercase hex, a
`real` as its single-precision bit pattern (signed 32-bit integer). A column added later
goes at the END: NULL in older rows, it is a trailing null there and leaves their links
valid. Adding one is an edit of ``CANON_COLUMNS``, ``canonical`` and ``_canonical_entry`` here,
of ``audit_canonical`` in SQL (a new migration), of ``verify.adapters.audit._row``, of
``COPY_COLUMNS`` (after ``terminal``, before ``at``) and the writer's COPY types
(``verify.adapters.audit_rows.COPY_TYPES``), and of its INSERT (``audit_rows.INSERT_SQL``,
which reads canonical rows).

The writer seals a commit one of two ways (verify/adapters/audit_rows.py says which costs
what): ``Chain.seal_records`` hashes each row's canonical bytes and hands COPY records of
the entries' own values (what binary COPY stores is those values, exactly: ``at`` as its
microseconds, the latency as the `real` of its double, a NaN as the one NaN hashed);
``Chain.seal_entries`` hands the INSERT the very bytes it hashed (one JSON array of them
for the whole commit), from which it stores the columns. Either way what is stored is
what was hashed (tests/unit/test_audit_seal.py holds both to ``canonical`` of the row).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from verify.service.audit import AuditEntry

CANON_COLUMNS = (
    "at", "agency_id", "key_id", "request_id", "kind", "purpose", "subject", "verdict",
    "fields", "latency_ms", "terminal",
)  # fmt: skip
CHAIN_COLUMNS = ("chain_id", "chain_batch", "chain_link")
# A COPY record: an AuditEntry's values after `at`, in its order (one slice of the entry),
# then `at` and the chain's columns (one concatenation). `at` travels as the int8 of its
# microseconds since 2000-01-01 UTC and chain_id as its 16 bytes: COPY's binary format of a
# timestamptz and of a uuid, the very bytes (verify/adapters/audit_rows.py: COPY_TYPES).
COPY_COLUMNS = (
    "agency_id", "request_id", "kind", "purpose", "subject", "verdict", "fields",
    "latency_ms", "key_id", "terminal", "at", "chain_id", "chain_batch", "chain_link",
)  # fmt: skip
PG_EPOCH_MICROS = 946_684_800_000_000  # 2000-01-01 UTC, in microseconds since 1970
ZERO_LINK = bytes(32)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICRO = dt.timedelta(microseconds=1)
MICROS_PER_DAY = 86_400_000_000
_F32 = struct.Struct(">f")
_I32 = struct.Struct(">i")


# The rows of one request share their time and latency: both conversions are memoised.
@functools.lru_cache(maxsize=4096)
def micros(at: dt.datetime) -> int:
    """Microseconds since 1970-01-01 UTC (exact: timedelta arithmetic is integral)."""
    return (at - _EPOCH) // _MICRO


def _float4_bits(value: float) -> int:
    # latency_ms is a `real`: what the database keeps is the single-precision value.
    # 0.0 and -0.0 are equal keys to a cache but differ in bits: never cached
    if value == 0.0:
        return _bits(value)
    return _cached_bits(value)


def _bits(value: float) -> int:
    bits: int = _I32.unpack(_F32.pack(value))[0]
    return bits


_cached_bits = functools.lru_cache(maxsize=4096)(_bits)


def canonical(row: Sequence[Any]) -> bytes:
    """The bytes a link covers for one row (``row`` in CANON_COLUMNS order; more ignored):
    a compact JSON array of its values, trailing nulls left out."""
    at, agency_id, key_id, request_id, kind, purpose, subject, verdict, fields, latency = row[:10]
    terminal = row[10]  # migration 010: last, so rows written before it keep their links
    values = [
        micros(at), agency_id, key_id, request_id, kind, purpose,
        None if subject is None else subject.hex(), verdict, fields,
        None if latency is None else _float4_bits(latency), terminal,
    ]  # fmt: skip
    while values and values[-1] is None:
        values.pop()
    return orjson.dumps(values)


def link(prev: bytes, chain_id: uuid.UUID, batch: int, canon_rows: Sequence[bytes]) -> bytes:
    digest = hashlib.sha256(prev)
    digest.update(chain_id.bytes)
    digest.update(batch.to_bytes(8, "big", signed=True))
    if canon_rows:  # each row's bytes followed by a newline: one update for them all
        digest.update(b"\n".join(canon_rows))
        digest.update(b"\n")
    return digest.digest()


Row = tuple[object, ...]


class Sealed(NamedTuple):
    """One commit's rows, sealed: what the writer's INSERT takes, and the chain's head after.

    ``rows`` is one JSON array of the rows' canonical bytes, in the order they were hashed
    (batch after batch); ``ends`` the 1-based position of each batch's last row (where its
    link goes), ``links`` each batch's link; the batches are numbered ``batch - len(ends) + 1``
    to ``batch``, and ``head`` is the last link."""

    rows: bytes
    ends: list[int]
    links: list[bytes]
    batch: int
    head: bytes


class SealedRecords(NamedTuple):
    """One commit's rows as COPY records (``COPY_COLUMNS``, in the order they were hashed),
    the last batch's number and the head after."""

    records: list[tuple[object, ...]]
    batch: int
    head: bytes


def _nan_latency(e: AuditEntry) -> AuditEntry:
    """The entry with its NaN latency as the NaN `REAL_NAN_BITS` says (a positive quiet NaN
    without payload, which the float4 conversion of COPY keeps as it is)."""
    return e._replace(latency_ms=math.nan)


def _records(
    entries: Sequence[AuditEntry], chain_id: bytes, batch: int, link_: bytes
) -> list[tuple[object, ...]]:
    """One batch's COPY records: each entry's values after `at`, then `at` and the chain's
    columns, the link on the last. The rows of one request share their `at`: their common
    tail is made once (a record is then one slice and one concatenation)."""
    tails: dict[dt.datetime, tuple[object, ...]] = {}
    records = []
    for e in entries:
        tail = tails.get(e.at)
        if tail is None:
            tail = tails[e.at] = (micros(e.at) - PG_EPOCH_MICROS, chain_id, batch, None)
        if e.latency_ms != e.latency_ms:  # NaN (None is equal to itself)
            e = _nan_latency(e)
        records.append(e[1:] + tail)
    records[-1] = (*records[-1][:-1], link_)
    return records


# The NaN a `real` holds when the INSERT stores one (its bits are what `audit_canonical`
# hashes): 'NaN'::real, whatever sign or payload the recorded float had.
REAL_NAN_BITS = 0x7FC00000


def _latency_bits(latency: float) -> int:
    """The bits of the `real` the INSERT stores for a latency (`latency != latency`: NaN)."""
    return REAL_NAN_BITS if latency != latency else _float4_bits(latency)


def _canonical_entry(e: AuditEntry) -> tuple[int, bytes]:
    """One entry's UTC day and canonical bytes (``canonical`` says the same of the row read
    back: tests hold the two to each other)."""
    at, agency, request_id, kind, purpose, subject, verdict, fields, latency, key, terminal = e
    us = micros(at)
    values = [
        us, agency, key, request_id, kind, purpose, None if subject is None else subject.hex(),
        verdict, fields, None if latency is None else _latency_bits(latency), terminal,
    ]  # fmt: skip
    while values[-1] is None:  # `at` never is
        values.pop()
    return us // MICROS_PER_DAY, orjson.dumps(values)


# a commit of this many rows or more renders them by parts (_canonical_many)
MANY_ROWS = 16


def _canonical_entries(entries: Sequence[AuditEntry]) -> list[tuple[int, bytes]]:
    """``_canonical_entry`` of each entry (by parts for a large commit: the same bytes)."""
    if len(entries) < MANY_ROWS:
        return [_canonical_entry(e) for e in entries]
    return _canonical_many(entries)


def _canonical_many(entries: Sequence[AuditEntry]) -> list[tuple[int, bytes]]:
    """``_canonical_entry`` of each entry, the bytes made of parts the rows of one request
    share: a batch's items differ in their subject and verdict, not in their time, agency,
    key, request, kind, purpose or latency. The part before the subject is rendered once per
    request and purpose, the part after it once per verdict, fields, latency bits and
    terminal (the bits, not the float: 0.0 and -0.0 are equal keys); an entry without a
    subject (its trailing nulls then reach further back) is rendered whole."""
    heads: dict[tuple[object, ...], tuple[int, bytes]] = {}
    tails: dict[tuple[object, ...], bytes] = {}
    out = []
    dumps = orjson.dumps
    for e in entries:
        at, agency, request_id, kind, purpose, _, verdict, fields, latency, key, terminal = e
        subject: bytes | None = e.subject  # the column is nullable, whatever the type says
        if subject is None:
            out.append(_canonical_entry(e))
            continue
        head_key = (at, agency, key, request_id, kind, purpose)
        head = heads.get(head_key)
        if head is None:
            us = micros(at)
            opening = dumps([us, agency, key, request_id, kind, purpose])[:-1] + b',"'
            head = heads[head_key] = (us // MICROS_PER_DAY, opening)
        bits = None if latency is None else _latency_bits(latency)
        tail_key = (verdict, fields, bits, terminal)
        tail = tails.get(tail_key)
        if tail is None:
            rest = [verdict, fields, bits, terminal]
            while rest and rest[-1] is None:
                rest.pop()
            tail = tails[tail_key] = b'",' + dumps(rest)[1:] if rest else b'"]'
        out.append((head[0], head[1] + subject.hex().encode() + tail))
    return out


def _by_day(days: Sequence[int]) -> list[list[int]]:
    """The positions of each UTC day's rows, days in order (one group in the usual case)."""
    if not days:
        return []
    first = days[0]
    if all(day == first for day in days):
        return [list(range(len(days)))]
    groups: dict[int, list[int]] = {}
    for i, day in enumerate(days):
        groups.setdefault(day, []).append(i)
    return [groups[day] for day in sorted(groups)]


@dataclass
class Chain:
    """One writer slot's chain. ``seal`` computes the next links without moving the head;
    ``advance`` moves it once the rows are committed; ``restart`` begins a new chain after a
    failed commit (its outcome unknown: the old chain simply ends there)."""

    chain_id: uuid.UUID = field(default_factory=uuid.uuid4)
    batch: int = 0  # the last committed batch
    head: bytes = ZERO_LINK

    def seal(self, rows: Sequence[Row]) -> tuple[list[Row], int, bytes]:
        """The rows to COPY (chain columns appended), one batch per UTC day, and the head
        after them: (records, last batch number, last link)."""
        days = [micros(row[0]) // MICROS_PER_DAY for row in rows]
        first = days[0] if days else 0
        if all(day == first for day in days):  # the usual case: one batch
            groups = [list(rows)]
        else:
            by_day: dict[int, list[Row]] = {}
            for day, row in zip(days, rows, strict=True):
                by_day.setdefault(day, []).append(row)
            groups = [by_day[day] for day in sorted(by_day)]
        records: list[Row] = []
        batch, head = self.batch, self.head
        for group in groups:
            batch += 1
            head = link(head, self.chain_id, batch, [canonical(row) for row in group])
            records.extend((*row, self.chain_id, batch, None) for row in group[:-1])
            records.append((*group[-1], self.chain_id, batch, head))
        return records, batch, head

    def seal_entries(self, entries: Sequence[AuditEntry]) -> Sealed:
        """The writer's rows, one batch per UTC day (days in order), with their links; the
        head does not move (``advance`` does, once they are committed)."""
        sealed = _canonical_entries(entries)
        batch, head = self.batch, self.head
        if not sealed:
            return Sealed(b"[]", [], [], batch, head)
        first = sealed[0][0]
        if all(day == first for day, _ in sealed):  # the usual case: one batch
            canon = [c for _, c in sealed]
            head = link(head, self.chain_id, batch + 1, canon)
            return Sealed(b"[" + b",".join(canon) + b"]", [len(canon)], [head], batch + 1, head)
        ordered: list[bytes] = []
        ends: list[int] = []
        links: list[bytes] = []
        for group in _by_day([day for day, _ in sealed]):
            canon = [sealed[i][1] for i in group]
            batch += 1
            head = link(head, self.chain_id, batch, canon)
            ordered.extend(canon)
            ends.append(len(ordered))
            links.append(head)
        return Sealed(b"[" + b",".join(ordered) + b"]", ends, links, batch, head)

    def seal_records(self, entries: Sequence[AuditEntry]) -> SealedRecords:
        """The writer's rows as records to COPY (``COPY_COLUMNS``), one batch per UTC day
        (days in order), the chain's columns filled in; the head does not move.

        A record holds the entry's own values, which COPY's binary format stores as they
        are: ``at`` as its microseconds, the latency as the single-precision value of its
        double (rounded as ``_float4_bits`` rounds), the very values ``_canonical_entry``
        hashed. A NaN latency is stored as the one NaN the canonical bytes say (its sign and
        payload would otherwise survive)."""
        sealed = _canonical_entries(entries)
        batch, head = self.batch, self.head
        if not sealed:
            return SealedRecords([], batch, head)
        first = sealed[0][0]
        if all(day == first for day, _ in sealed):  # the usual case: one batch
            head = link(head, self.chain_id, batch + 1, [c for _, c in sealed])
            records = _records(entries, self.chain_id.bytes, batch + 1, head)
            return SealedRecords(records, batch + 1, head)
        records = []
        for group in _by_day([day for day, _ in sealed]):
            batch += 1
            head = link(head, self.chain_id, batch, [sealed[i][1] for i in group])
            records += _records([entries[i] for i in group], self.chain_id.bytes, batch, head)
        return SealedRecords(records, batch, head)

    def advance(self, batch: int, head: bytes) -> None:
        self.batch, self.head = batch, head

    def restart(self) -> None:
        self.chain_id, self.batch, self.head = uuid.uuid4(), 0, ZERO_LINK
