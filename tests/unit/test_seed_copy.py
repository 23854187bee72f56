"""The seed's binary COPY rows, read back by a plain decoder of PostgreSQL's binary COPY format
and compared field by field with the generated chunk: the columns in their declared order,
every card of a person in the citizen row's arrays (what the id_cards triggers of migration 013
would compute: by issue date, NULL expiry for a card that never expires, NULL arrays without a
card), and the id_cards and former_ids rows."""

from __future__ import annotations

import datetime as dt
import struct
from collections import defaultdict

import pytest

from verify.adapters import seed_cards
from verify.adapters.seed_copy import DATE_OID, HEADER, TEXT_OID, TRAILER, Encoder
from verify.adapters.seed_gen import EPOCH, HOUSE_NUMBERS, ChunkData, Population
from verify.adapters.seed_names import STREETS, WARDS
from verify.adapters.seed_workers import CARD_COLUMNS, COPY_CITIZEN_COLUMNS, FORMER_COLUMNS

TODAY = dt.date(2025, 6, 1)
PG_EPOCH = dt.date(2000, 1, 1)
Field = bytes | None


def fields(data: bytes) -> list[list[Field]]:
    """Rows of binary COPY data (without header and trailer) as lists of raw field bytes."""
    rows, at = [], 0
    while at < len(data):
        (count,) = struct.unpack_from("!h", data, at)
        at += 2
        row: list[Field] = []
        for _ in range(count):
            (size,) = struct.unpack_from("!i", data, at)
            at += 4
            row.append(None if size < 0 else data[at : at + size])
            at += max(size, 0)
        rows.append(row)
    assert at == len(data)
    return rows


def day(raw: bytes) -> dt.date:
    return PG_EPOCH + dt.timedelta(struct.unpack("!i", raw)[0])


def array(raw: Field, oid: int) -> list[object] | None:
    """A one-dimensional array in the binary send format, its elements decoded."""
    if raw is None:
        return None
    ndim, has_null, elem, size, lower = struct.unpack_from("!iiiii", raw)
    assert (ndim, elem, lower) == (1, oid, 1)
    out: list[object] = []
    at = 20
    for _ in range(size):
        (length,) = struct.unpack_from("!i", raw, at)
        at += 4
        if length < 0:
            out.append(None)
            continue
        value = raw[at : at + length]
        out.append(day(value) if oid == DATE_OID else value.decode())
        at += length
    assert at == len(raw) and bool(has_null) == (None in out)
    return out


def date_of(days: int) -> dt.date:
    return dt.date.fromordinal(int(days) + EPOCH)


@pytest.fixture(scope="module", params=[(0, 3_000), (41, 100_000)], ids=["small", "full"])
def chunk(request: pytest.FixtureRequest) -> tuple[Encoder, ChunkData]:
    population = Population(23, TODAY)
    index, size = request.param
    return Encoder(population.t), population.chunk(index, size)


def test_citizen_rows_hold_the_person_and_every_card(chunk: tuple[Encoder, ChunkData]) -> None:
    encoder, data = chunk
    population = Population(23, TODAY)
    t, p, c = population.t, data.people, data.cards
    given = [*t.male_names, *t.female_names]
    cards: dict[int, list[tuple[dt.date, dt.date | None, str]]] = defaultdict(list)
    for holder, issue, expiry, status in zip(
        c.id_number.tolist(), c.issue.tolist(), c.expiry.tolist(), c.status.tolist(), strict=True
    ):
        never = expiry == seed_cards.NEVER
        cards[holder].append(
            (date_of(issue), None if never else date_of(expiry), seed_cards.STATUSES[status])
        )
    rows = fields(encoder.citizens(data))
    assert len(rows) == len(p.id_number)
    for i, raw in enumerate(rows):
        row = dict(zip(COPY_CITIZEN_COLUMNS, raw, strict=True))
        id_number = int(p.id_number[i])
        assert struct.unpack("!q", row["id_number"] or b"") == (id_number,)
        assert day(row["birth_date"] or b"") == date_of(p.birth[i])
        assert row["birth_year_only"] == bytes([bool(p.year_only[i])])
        assert row["deceased"] == bytes([bool(p.deceased[i])])
        assert row["gender"] == (b"F" if p.female[i] else b"M")
        code = int(t.codes[p.home[i]])
        assert struct.unpack("!h", row["province_code"] or b"") == (code,)
        name = f"{t.families[p.family[i]]} {given[p.given[i]]}"
        assert (row["full_name"] or b"").decode() == name
        street = f"Số {p.house[i] + 1}, đường {STREETS[p.street[i]]}, phường "
        place = f"{WARDS[p.ward[i]]}, {t.province_names[p.home[i]]}"
        assert p.house[i] < HOUSE_NUMBERS
        assert (row["address"] or b"").decode() == street + place
        mine = sorted(cards.get(id_number, []))  # what the triggers aggregate by issue date
        issue = array(row["card_issue"], DATE_OID)
        expiry = array(row["card_expiry"], DATE_OID)
        status = array(row["card_status"], TEXT_OID)
        if not mine:
            assert (issue, expiry, status) == (None, None, None)
        else:
            assert issue == [k[0] for k in mine]
            assert expiry == [k[1] for k in mine]
            assert status == [k[2] for k in mine]


def test_card_and_former_id_rows(chunk: tuple[Encoder, ChunkData]) -> None:
    encoder, data = chunk
    c, f = data.cards, data.former
    rows = fields(encoder.cards(data))
    assert len(rows) == len(c.id_number)
    for i, raw in enumerate(rows):
        row = dict(zip(CARD_COLUMNS, raw, strict=True))
        assert struct.unpack("!q", row["id_number"] or b"") == (int(c.id_number[i]),)
        assert day(row["issue_date"] or b"") == date_of(c.issue[i])
        never = c.expiry[i] == seed_cards.NEVER
        assert (None if never else day(row["expiry_date"] or b"")) == (
            None if never else date_of(c.expiry[i])
        )
        assert (row["expiry_date"] is None) == never
        assert (row["status"] or b"").decode() == seed_cards.STATUSES[c.status[i]]
    former = [dict(zip(FORMER_COLUMNS, r, strict=True)) for r in fields(encoder.former(data))]
    assert [struct.unpack("!q", r["former_id"] or b"")[0] for r in former] == f.former_id.tolist()
    assert [struct.unpack("!q", r["id_number"] or b"")[0] for r in former] == f.id_number.tolist()


def test_the_stream_is_framed_as_binary_copy() -> None:
    assert b"PGCOPY\n\xff\r\n\x00" + bytes(8) == HEADER
    assert TRAILER == b"\xff\xff"
