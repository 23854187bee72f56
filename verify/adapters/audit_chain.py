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
valid. Adding one is an edit of ``CANON_COLUMNS``, ``canonical`` and ``_sealed_row`` here,
of ``audit_canonical`` in SQL (a new migration), of ``verify.adapters.audit._row`` and of
the writer's INSERT (``verify.adapters.audit.INSERT_SQL``).

``Chain.seal_entries`` is the writer's path: from the entries it makes, in one pass, each
row's canonical bytes (hashed) and the row as the INSERT reads it (one JSON document for
the whole commit), so the row stored is built from the very values that were hashed.
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
from typing import Any

import orjson

from verify.service.audit import AuditEntry

CANON_COLUMNS = (
    "at", "agency_id", "key_id", "request_id", "kind", "purpose", "subject", "verdict",
    "fields", "latency_ms", "terminal",
)  # fmt: skip
CHAIN_COLUMNS = ("chain_id", "chain_batch", "chain_link")
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


@functools.lru_cache(maxsize=4096)
def _float4(value: float) -> tuple[int, float | str]:
    """The `real` a latency is stored as: its bit pattern (hashed) and its value as the INSERT
    reads it, already rounded to single precision, so that the text Postgres parses names
    exactly that float (a double's shortest repr could round to the other neighbour). JSON
    has no NaN or infinity: those go as the words `real` input accepts."""
    single: float = _F32.unpack(_F32.pack(value))[0]
    if single == 0.0:  # also a tiny negative rounded to -0: jsonb keeps 0, so hash 0
        return 0, 0.0
    bits = _float4_bits(value)
    if math.isfinite(single):
        return bits, single
    return bits, "NaN" if math.isnan(single) else ("Infinity" if single > 0 else "-Infinity")


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
# a row as the writer's INSERT reads it (verify.adapters.audit.INSERT_SQL): at, agency_id,
# key_id, request_id, kind, purpose, subject (hex), verdict, fields, latency_ms,
# terminal, chain_batch, chain_link (hex, on the batch's last row only)
SealedRow = list[Any]


def _sealed_row(e: AuditEntry) -> tuple[int, bytes, SealedRow]:
    """One entry's UTC day, canonical bytes and INSERT row, from one reading of its values
    (``canonical`` says the same for a row read back: tests hold the two to each other)."""
    at, agency, request_id, kind, purpose, subject, verdict, fields, latency, key, terminal = e
    us = micros(at)
    hexed = None if subject is None else subject.hex()
    if latency is None:
        bits: int | None = None
        single: float | str | None = None
    else:
        # + 0.0: -0.0 is stored as 0 (jsonb's numeric has no negative zero), so hashed as 0
        bits, single = _float4(latency + 0.0)
    values = [us, agency, key, request_id, kind, purpose, hexed, verdict, fields, bits, terminal]
    while values and values[-1] is None:
        values.pop()
    row = [at, agency, key, request_id, kind, purpose, hexed, verdict, fields, single, terminal,
           0, None]  # fmt: skip
    return us // MICROS_PER_DAY, orjson.dumps(values), row


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

    def seal_entries(self, entries: Sequence[AuditEntry]) -> tuple[bytes, int, bytes]:
        """The writer's rows (one JSON array, ``SealedRow`` each, one batch per UTC day, in
        order) with their links, and the head after them: (rows, last batch, last link)."""
        sealed = [_sealed_row(e) for e in entries]
        rows: list[SealedRow] = []
        batch, head = self.batch, self.head
        for group in _by_day([day for day, _, _ in sealed]):
            batch += 1
            head = link(head, self.chain_id, batch, [sealed[i][1] for i in group])
            for i in group:
                row = sealed[i][2]
                row[11] = batch
                rows.append(row)
            rows[-1][12] = head.hex()
        return orjson.dumps(rows), batch, head

    def advance(self, batch: int, head: bytes) -> None:
        self.batch, self.head = batch, head

    def restart(self) -> None:
        self.chain_id, self.batch, self.head = uuid.uuid4(), 0, ZERO_LINK
