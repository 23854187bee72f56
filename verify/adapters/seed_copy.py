"""PostgreSQL binary COPY data for the seed's columns, assembled with numpy.

No per-row Python formatting: every row is made of pieces, byte strings built once per
encoder (a name with its length, a street, a ward and province, a date as an array element,
the header of an array of k cards) or per chunk (a big-endian structured array of the
fixed-width fields, one bytes object per row from its void view). A citizens chunk is an object
array of the pieces of its rows, in row order, filled by index arithmetic (where each row's
pieces start), and joined once by ``bytes.join`` in C: about ten pieces per citizen, with the
card arrays of migration 013. (A padded byte matrix compressed by a mask, which id_cards still
uses, costs twice as much for these wide rows.) Binary COPY spares the server from parsing
dates and numbers as text.

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


def _fixed(n: int, fields: list[tuple[str, str, object]]) -> U8:
    """A big-endian record per row, viewed as an (n, width) byte matrix."""
    rec = np.empty(n, dtype=[(name, kind) for name, kind, _ in fields])
    for name, _, value in fields:
        rec[name] = value
    return rec.view(np.uint8).reshape(n, -1)


Objects = npt.NDArray[np.object_]
ROW_PIECES = 4  # head (fixed-width fields and the address length), street, place, name
NULL_ITEM = struct.pack("!i", -1)  # a NULL field, or a NULL element of an array
NULL_ARRAYS = NULL_ITEM * 3  # no card: the three arrays NULL
BASE = len(seed_cards.STATUSES)  # a person's statuses as the digits of one number
MAX_CARDS = 30  # per person: 3**30 status sequences still add up exactly in a float64


def _rows(matrix: U8) -> list[bytes]:
    """Each row of an (n, w) byte matrix as a bytes object (a void view's ``tolist``)."""
    rows: list[bytes] = (
        np.ascontiguousarray(matrix).view(np.dtype((np.void, matrix.shape[1])))[:, 0].tolist()
    )
    return rows


def _pieces(items: Sequence[bytes]) -> Objects:
    """Byte strings as an object array: indexing it picks the pieces of many rows at once."""
    out = np.empty(len(items), object)
    out[:] = list(items)
    return out


class CardPieces:
    """The pieces of the card arrays: a date element per day, and array headers by count
    (and, for expiry, NULL elements), grown on demand."""

    def __init__(self) -> None:
        self.first = seed_cards.first_day()
        days = np.arange(self.first, seed_cards.last_day() + 1, dtype=np.int64)
        self.days = _pieces(
            _rows(_fixed(len(days), [("l", ">i4", 4), ("d", ">i4", days - PG_EPOCH)]))
        )
        self.most = -1
        self._grow(8)

    def day(self, days: I64) -> Objects:
        found: Objects = self.days[days - self.first]
        return found

    def issue_header(self, k: I64) -> Objects:
        self._grow(int(k.max(initial=0)))
        found: Objects = self.issue[k]
        return found

    def expiry_header(self, k: I64, nulls: I64) -> Objects:
        self._grow(int(k.max(initial=0)))
        found: Objects = self.expiry[k, nulls]
        return found

    def _grow(self, most: int) -> None:
        """Tables of every header for up to ``most`` cards (a few kilobytes)."""
        if most <= self.most:
            return
        most = max(most, 2 * self.most)
        k = np.arange(most + 1, dtype=np.int64)
        self.issue = _pieces(_headers(k, np.zeros_like(k), DATE_OID, 8 * k))
        nulls = np.arange(most + 1, dtype=np.int64)
        kk, nn = np.meshgrid(k, nulls, indexing="ij")
        self.expiry = _pieces(
            _headers(kk.ravel(), nn.ravel() > 0, DATE_OID, 8 * kk.ravel() - 4 * nn.ravel())
        ).reshape(kk.shape)
        self.most = most


def _headers(count: I64, has_null: npt.NDArray[np.bool_] | I64, oid: int, body: I64) -> list[bytes]:
    """The field length and header of 1-D arrays of ``count`` elements taking ``body`` bytes."""
    return _rows(_fixed(len(count), [
        ("len", ">i4", ARRAY_HEADER - 4 + body), ("ndim", ">i4", 1), ("null", ">i4", has_null),
        ("oid", ">i4", oid), ("dim", ">i4", count), ("lb", ">i4", 1),
    ]))  # fmt: skip


class Encoder:
    """Binary COPY bytes for a chunk's three tables (columns as in seed_workers' lists)."""

    def __init__(self, t: SeedTables) -> None:
        given = [g.encode() for g in [*t.male_names, *t.female_names]]
        self.n_given = len(given)
        self.name = _pieces([  # the whole field: length, then "Family Middle Given"
            struct.pack("!i", len(f.encode()) + 1 + len(g)) + f.encode() + b" " + g
            for f in t.families for g in given
        ])  # fmt: skip
        self.n_street = len(STREETS)
        streets = [
            f"Số {i}, đường {s}, phường ".encode()
            for i in range(1, HOUSE_NUMBERS + 1) for s in STREETS
        ]  # fmt: skip
        self.street = _pieces(streets)
        self.street_len = np.asarray([len(b) for b in streets], np.int64)
        self.n_province = len(t.province_names)
        places = [f"{w}, {p}".encode() for w in WARDS for p in t.province_names]
        self.place = _pieces(places)
        self.place_len = np.asarray([len(b) for b in places], np.int64)
        self.code_ints = np.asarray([int(c) for c in t.codes], np.int64)
        status = [struct.pack("!i", len(s)) + s.encode() for s in seed_cards.STATUSES]
        self.status = Vocab.of(status)
        self.status_item = status
        self.status_arrays: dict[int, bytes] = {}
        self.arrays = CardPieces()

    def citizens(self, chunk: ChunkData) -> bytes:
        """Each row as the pieces it is made of (a fixed-width head of its own, then shared
        byte strings: address, name, card array headers and elements), joined once in C."""
        p = chunk.people
        n = len(p.id_number)
        street = p.house * self.n_street + p.street
        place = p.ward * self.n_province + p.home
        head = _fixed(n, [
            ("fields", ">i2", 11), ("l0", ">i4", 8), ("id", ">i8", p.id_number),
            ("l2", ">i4", 4), ("birth", ">i4", p.birth - PG_EPOCH),
            ("l3", ">i4", 1), ("year_only", "u1", p.year_only),
            ("l4", ">i4", 1), ("gender", "u1", np.where(p.female, ord("F"), ord("M"))),
            ("l5", ">i4", 1), ("deceased", "u1", p.deceased),
            ("l6", ">i4", 2), ("province", ">i2", self.code_ints[p.home]),
            ("l7", ">i4", self.street_len[street] + self.place_len[place]),
        ])  # fmt: skip
        c = chunk.cards
        count = np.bincount(c.person, minlength=n)
        per_row = ROW_PIECES + np.where(count > 0, 3 + 2 * count, 1)
        start = np.cumsum(per_row) - per_row
        items = np.empty(int(per_row.sum()), object)
        items[start] = _rows(head)
        items[start + 1] = self.street[street]
        items[start + 2] = self.place[place]
        items[start + 3] = self.name[p.family * self.n_given + p.given]
        self._card_arrays(items, start + ROW_PIECES, count, chunk)
        return b"".join(items.tolist())

    def _card_arrays(self, items: Objects, at: I64, count: I64, chunk: ChunkData) -> None:
        """card_issue, card_expiry, card_status (migration 013): each person's cards by issue
        date (the generator's order) as three one-dimensional arrays, NULL without a card.
        Pieces from ``at`` on: three NULLs, or the issue and expiry arrays as a header, then
        their elements, and the status array as one piece (few status sequences occur)."""
        c = chunk.cards
        has = count > 0
        items[at[~has]] = NULL_ARRAYS
        row = c.person
        first = np.cumsum(count) - count
        slot = np.arange(len(row)) - first[row]
        never = c.expiry == seed_cards.NEVER
        n_never = np.bincount(row, weights=never, minlength=len(count)).astype(np.int64)
        if len(row) and count.max() > MAX_CARDS:
            raise ValueError(f"more than {MAX_CARDS} cards for one person")
        weights = c.status * np.float64(BASE) ** slot  # sums exact below 2**53
        sequence = np.bincount(row, weights=weights, minlength=len(count)).astype(np.int64)
        base, k = at[has], count[has]
        items[base] = self.arrays.issue_header(k)
        items[base + 1 + k] = self.arrays.expiry_header(k, n_never[has])
        items[base + 2 + 2 * k] = self._status_arrays(k, sequence[has])
        card_at, card_k = at[row] + slot, count[row]
        items[card_at + 1] = self.arrays.day(c.issue)
        expiry = self.arrays.day(np.where(never, c.issue, c.expiry))
        expiry[never] = NULL_ITEM
        items[card_at + 2 + card_k] = expiry

    def _status_arrays(self, k: I64, sequence: I64) -> Objects:
        """The card_status arrays of persons with ``k`` cards whose statuses, slot j as digit j
        in base 3, are ``sequence``: built once per distinct (k, sequence), then picked."""
        key = sequence * (MAX_CARDS + 1) + k
        distinct, which = np.unique(key, return_inverse=True)
        for found in distinct.tolist():
            if found not in self.status_arrays:
                count, digits = found % (MAX_CARDS + 1), found // (MAX_CARDS + 1)
                body = b"".join(self.status_item[digits // BASE**j % BASE] for j in range(count))
                header = _headers(np.asarray([count]), np.zeros(1, np.int64), TEXT_OID,
                                  np.asarray([len(body)]))[0]  # fmt: skip
                self.status_arrays[found] = header + body
        pieces = _pieces([self.status_arrays[f] for f in distinct.tolist()])
        picked: Objects = pieces[which]
        return picked

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
