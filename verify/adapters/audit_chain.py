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
valid. Adding one is an edit of ``CANON_COLUMNS`` and ``canonical`` here, of
``audit_canonical`` in SQL (a new migration) and of ``verify.adapters.audit._row``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

CANON_COLUMNS = (
    "at", "agency_id", "key_id", "request_id", "kind", "purpose", "subject", "verdict",
    "fields", "latency_ms",
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


@functools.lru_cache(maxsize=4096)
def _float4_bits(value: float) -> int:
    # latency_ms is a `real`: what the database keeps is the single-precision value
    bits: int = _I32.unpack(_F32.pack(value))[0]
    return bits


def canonical(row: Sequence[Any]) -> bytes:
    """The bytes a link covers for one row (``row`` in CANON_COLUMNS order; more ignored):
    a compact JSON array of its values, trailing nulls left out."""
    at, agency_id, key_id, request_id, kind, purpose, subject, verdict, fields, latency = row[:10]
    values = [
        micros(at), agency_id, key_id, request_id, kind, purpose,
        None if subject is None else subject.hex(), verdict, fields,
        None if latency is None else _float4_bits(latency),
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

    def advance(self, batch: int, head: bytes) -> None:
        self.batch, self.head = batch, head

    def restart(self) -> None:
        self.chain_id, self.batch, self.head = uuid.uuid4(), 0, ZERO_LINK
