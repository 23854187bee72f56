"""The audit's hash chains: canonical bytes of a row, the link of a batch, a writer's chain.

Every group commit of a writer appends one link (per UTC day its rows fall on) to that
writer's chain (migration 006 has the definition):

    link(n) = SHA-256(link(n-1) || chain id (16 bytes) || n (8 bytes, big-endian)
                      || canonical(row) + b"\\n" for each row of batch n, in COPY order)

``canonical`` is the one place that says which columns a link covers and how: a compact
JSON object of the non-NULL values of ``CANON_COLUMNS``, in that order. A NULL column is
left out, so a column added later (NULL in older rows) keeps their links valid: adding
one is an edit of ``CANON_COLUMNS`` and ``_ENCODE`` here, of ``audit_canonical`` in SQL
(a new migration) and of ``verify.adapters.audit.COLUMNS``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import struct
import uuid
from collections.abc import Callable, Iterable, Sequence
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


# The rows of one request share their time and latency: both conversions are memoised
# (about 40 % of the cost of a row).
@functools.lru_cache(maxsize=4096)
def micros(at: dt.datetime) -> int:
    """Microseconds since 1970-01-01 UTC (exact: timedelta arithmetic is integral)."""
    return (at - _EPOCH) // _MICRO


@functools.lru_cache(maxsize=4096)
def _float4_bits(value: float) -> int:
    # latency_ms is a `real`: what the database keeps is the single-precision value
    bits: int = _I32.unpack(_F32.pack(value))[0]
    return bits


# per column, how its value is written (None: as it is: str, int, list of str)
_ENCODE: dict[str, Callable[[Any], object]] = {
    "at": micros,
    "subject": bytes.hex,
    "latency_ms": _float4_bits,
}
_PLAN = tuple((name, _ENCODE.get(name)) for name in CANON_COLUMNS)


def canonical(row: Sequence[object]) -> bytes:
    """The bytes a link covers for one row (``row`` in CANON_COLUMNS order; more ignored)."""
    return orjson.dumps(
        {
            name: value if encode is None else encode(value)
            for (name, encode), value in zip(_PLAN, row, strict=False)
            if value is not None
        }
    )


def link(prev: bytes, chain_id: uuid.UUID, batch: int, canon_rows: Iterable[bytes]) -> bytes:
    digest = hashlib.sha256(prev)
    digest.update(chain_id.bytes)
    digest.update(batch.to_bytes(8, "big", signed=True))
    for canon in canon_rows:
        digest.update(canon)
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
        days: dict[int, list[tuple[Row, bytes]]] = {}
        for row in rows:
            at = row[0]
            assert isinstance(at, dt.datetime)
            days.setdefault(micros(at) // MICROS_PER_DAY, []).append((row, canonical(row)))
        records: list[Row] = []
        batch, head = self.batch, self.head
        for day in sorted(days):
            group = days[day]
            batch += 1
            head = link(head, self.chain_id, batch, (canon for _, canon in group))
            last = len(group) - 1
            records.extend(
                (*row, self.chain_id, batch, head if i == last else None)
                for i, (row, _) in enumerate(group)
            )
        return records, batch, head

    def advance(self, batch: int, head: bytes) -> None:
        self.batch, self.head = batch, head

    def restart(self) -> None:
        self.chain_id, self.batch, self.head = uuid.uuid4(), 0, ZERO_LINK
