"""PostgreSQL binary COPY data for the seed's columns, assembled with numpy.

A row is a sequence of segments: fixed-width fields (a big-endian structured array, viewed as
bytes) and text pieces drawn from a small vocabulary (names, street names...). The pieces'
bytes are gathered by index arithmetic, so a chunk of 100,000 citizens costs a few numpy
passes instead of 100,000 f-strings; binary COPY spares the server from parsing dates and
numbers as text.

Format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4 (signature,
flags, header extension; per row a 16-bit field count and, per field, a 32-bit length (-1:
NULL) and the value in the type's binary send format; a trailer of -1).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from verify.adapters import seed_cards
from verify.adapters.seed_gen import HOUSE_NUMBERS, ChunkData
from verify.adapters.seed_names import STREETS, WARDS, SeedTables

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)
PG_EPOCH = 10_957  # 2000-01-01 in days since 1970-01-01
DATE_OID, TEXT_OID = 1082, 25
ARRAY_HEADER = 24  # field length, ndim, has-null flag, element type, dimension, lower bound

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Vocab:
    """Byte strings as rows of a zero-padded matrix, with a mask of their real bytes."""

    padded: U8  # (items, width)
    mask: npt.NDArray[np.bool_]
    length: I64

    @classmethod
    def of(cls, items: Sequence[bytes]) -> Vocab:
        lengths = np.asarray([len(b) for b in items], np.int64)
        width = int(lengths.max()) if len(items) else 0
        joined = b"".join(item.ljust(width, b"\0") for item in items)  # one copy, in C
        padded = np.frombuffer(joined, np.uint8).reshape(len(items), width).copy()
        return cls(padded, np.arange(width) < lengths[:, None], lengths)


Segment = tuple["U8 | Vocab", "I64 | None"]


def assemble(n: int, segments: list[Segment]) -> bytes:
    """Rows of ``n`` records from segments, in order.

    A fixed segment is ``(matrix, widths)``: an (n, w) byte matrix of which each row's first
    ``widths[i]`` bytes count (None: all; a NULL date is 4 bytes of an 8-byte field). A text
    segment is ``(vocab, token index per row)``. Each segment fills its columns of a padded
    (n, total width) matrix with a mask of the real bytes; the masked bytes, in row order, are
    the rows: a few whole-matrix passes instead of per-row work.
    """
    widths = [v.padded.shape[1] if isinstance(v, Vocab) else v.shape[1] for v, _ in segments]
    buf = np.empty((n, sum(widths)), np.uint8)
    mask = np.empty((n, sum(widths)), np.bool_)
    col = 0
    for (value, idx), width in zip(segments, widths, strict=True):
        cols = slice(col, col + width)
        if isinstance(value, Vocab):
            buf[:, cols] = value.padded[idx]
            mask[:, cols] = value.mask[idx]
        else:
            buf[:, cols] = value
            mask[:, cols] = True if idx is None else np.arange(width) < idx[:, None]
        col += width
    return buf[mask].tobytes()


def _array_header(
    count: I64, oid: int, body: I64, has_null: npt.NDArray[np.bool_] | I64
) -> Segment:
    """The field length and array header of a 1-D array of ``count`` elements whose elements
    take ``body`` bytes; only the length (-1: NULL) where ``count`` is 0."""
    has = count > 0
    fixed = _fixed(len(count), [
        ("len", ">i4", np.where(has, ARRAY_HEADER - 4 + body, -1)), ("ndim", ">i4", 1),
        ("null", ">i4", has_null), ("oid", ">i4", oid), ("dim", ">i4", count), ("lb", ">i4", 1),
    ])  # fmt: skip
    return fixed, np.where(has, ARRAY_HEADER, 4)


def _element(length: I64, days: I64) -> U8:
    """A date element: its length (4, or -1 for a NULL element: then only those 4 bytes count)
    and the day number."""
    return _fixed(len(days), [("l", ">i4", length), ("d", ">i4", days)])


def _fixed(n: int, fields: list[tuple[str, str, object]]) -> U8:
    """A big-endian record per row, viewed as an (n, width) byte matrix."""
    rec = np.empty(n, dtype=[(name, kind) for name, kind, _ in fields])
    for name, _, value in fields:
        rec[name] = value
    return rec.view(np.uint8).reshape(n, -1)


class Encoder:
    """Binary COPY bytes for a chunk's three tables (columns as in seed_workers' lists)."""

    def __init__(self, t: SeedTables) -> None:
        given = [g.encode() for g in [*t.male_names, *t.female_names]]
        self.n_given = len(given)
        self.name = Vocab.of([  # the whole field: length, then "Family Middle Given"
            struct.pack("!i", len(f.encode()) + 1 + len(g)) + f.encode() + b" " + g
            for f in t.families for g in given
        ])  # fmt: skip
        self.n_street = len(STREETS)
        self.street = Vocab.of([
            f"Số {i}, đường {s}, phường ".encode()
            for i in range(1, HOUSE_NUMBERS + 1) for s in STREETS
        ])  # fmt: skip
        self.n_province = len(t.province_names)
        self.place = Vocab.of([f"{w}, {p}".encode() for w in WARDS for p in t.province_names])
        self.code_ints = np.asarray([int(c) for c in t.codes], np.int64)
        status = [struct.pack("!i", len(s)) + s.encode() for s in seed_cards.STATUSES]
        self.status = Vocab.of(status)
        self.status_slot = Vocab.of([*status, b""])  # last: no card in this slot

    def citizens(self, chunk: ChunkData) -> bytes:
        p = chunk.people
        n = len(p.id_number)
        name = p.family * self.n_given + p.given
        street = p.house * self.n_street + p.street
        place = p.ward * self.n_province + p.home
        fixed = _fixed(n, [
            ("fields", ">i2", 11), ("l0", ">i4", 8), ("id", ">i8", p.id_number),
            ("l2", ">i4", 4), ("birth", ">i4", p.birth - PG_EPOCH),
            ("l3", ">i4", 1), ("year_only", "u1", p.year_only),
            ("l4", ">i4", 1), ("gender", "u1", np.where(p.female, ord("F"), ord("M"))),
            ("l5", ">i4", 1), ("deceased", "u1", p.deceased),
            ("l6", ">i4", 2), ("province", ">i2", self.code_ints[p.home]),
        ])  # fmt: skip
        address_len = _fixed(n, [
            ("l7", ">i4", self.street.length[street] + self.place.length[place])
        ])  # fmt: skip
        return assemble(n, [
            (fixed, None), (self.name, name), (address_len, None), (self.street, street),
            (self.place, place), *self._card_arrays(chunk),
        ])  # fmt: skip

    def _card_arrays(self, chunk: ChunkData) -> list[Segment]:
        """card_issue, card_expiry, card_status (migration 013): each person's cards by issue
        date as three one-dimensional arrays, NULL without a card. Slot j of every row is a
        segment of its own, empty past the person's card count: K passes, K the most cards
        anyone in the chunk has."""
        n, c = len(chunk.people.id_number), chunk.cards
        by_id = np.argsort(chunk.people.id_number, kind="stable")
        row = by_id[np.searchsorted(chunk.people.id_number, c.id_number, sorter=by_id)]
        order = np.lexsort((c.issue, row))
        row = row[order]
        count = np.bincount(row, minlength=n)
        starts = np.cumsum(count) - count
        slot = np.arange(len(row)) - starts[row]
        k = int(count.max()) if len(row) else 0
        issue = np.zeros((n, k), np.int64)
        issue[row, slot] = c.issue[order] - PG_EPOCH
        never = np.ones((n, k), np.bool_)
        never[row, slot] = c.expiry[order] == seed_cards.NEVER
        expiry = np.zeros((n, k), np.int64)
        expiry[row, slot] = np.where(never[row, slot], 0, c.expiry[order] - PG_EPOCH)
        status = np.full((n, k), len(seed_cards.STATUSES), np.int64)
        status[row, slot] = c.status[order]
        present = np.arange(k) < count[:, None]  # (n, k)
        expiry_width = np.where(present, np.where(never, 4, 8), 0)
        out: list[Segment] = [_array_header(count, DATE_OID, 8 * count, np.zeros(n, np.int64))]
        out += [(_element(np.full(n, 4), issue[:, j]), 8 * present[:, j]) for j in range(k)]
        out.append(_array_header(
            count, DATE_OID, expiry_width.sum(axis=1), np.any(present & never, axis=1)
        ))  # fmt: skip
        out += [
            (_element(np.where(never[:, j], -1, 4), expiry[:, j]), expiry_width[:, j])
            for j in range(k)
        ]
        text = self.status_slot.length[status].sum(axis=1)
        out.append(_array_header(count, TEXT_OID, text, np.zeros(n, np.int64)))
        out += [(self.status_slot, status[:, j]) for j in range(k)]
        return out

    def cards(self, chunk: ChunkData) -> bytes:
        c = chunk.cards
        n = len(c.id_number)
        never = c.expiry == seed_cards.NEVER
        fixed = _fixed(n, [
            ("fields", ">i2", 4), ("l0", ">i4", 8), ("id", ">i8", c.id_number),
            ("l1", ">i4", 4), ("issue", ">i4", c.issue - PG_EPOCH),
            ("l2", ">i4", np.where(never, -1, 4)),
            ("expiry", ">i4", np.where(never, 0, c.expiry - PG_EPOCH)),
        ])  # fmt: skip
        widths = np.where(never, fixed.shape[1] - 4, fixed.shape[1])
        return assemble(n, [(fixed, widths), (self.status, c.status)])

    def former(self, chunk: ChunkData) -> bytes:
        f = chunk.former
        rows = _fixed(len(f.former_id), [
            ("fields", ">i2", 2), ("l0", ">i4", 8), ("former", ">i8", f.former_id),
            ("l1", ">i4", 8), ("id", ">i8", f.id_number),
        ])  # fmt: skip
        return rows.tobytes()
