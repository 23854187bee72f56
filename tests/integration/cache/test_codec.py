"""Cache values: exact round trip, bound to their key, and nothing personal readable in Redis."""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache.codec import NEGATIVE, RECORD, TOMBSTONE, Codec, CodecError, pack_record, unpack_record
from cache.keyspace import KeySpace
from tests.integration.cache.conftest import CountingSource, LookupFactory, add_citizen, new_id
from verify.domain.model import (
    Card,
    CardState,
    CitizenRecord,
    Gender,
    LifeStatus,
    PartialDate,
    Precision,
)

CODEC = Codec(secrets.token_bytes(32))
KEY = "t:r:v1:abc"

dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))
cards = st.builds(Card, dates, st.none() | dates, st.sampled_from(CardState))
records = st.builds(
    CitizenRecord,
    id_number=st.from_regex(r"\A[0-9]{12}\Z"),
    full_name=st.text(min_size=1, max_size=60),
    birth=st.builds(PartialDate, dates, st.sampled_from(Precision)),
    gender=st.sampled_from(Gender),
    status=st.sampled_from(LifeStatus),
    cards=st.lists(cards, max_size=5).map(tuple),
    version=st.integers(1, 2**40),
)


@given(records)
def test_records_round_trip_exactly(record: CitizenRecord) -> None:
    blob = CODEC.seal(KEY, RECORD, record.version, pack_record(record))
    opened = CODEC.open(KEY, blob)
    assert opened.kind == RECORD
    assert unpack_record(record.id_number, opened.version, opened.payload) == record


def test_a_value_moved_to_another_key_or_edited_does_not_open() -> None:
    blob = CODEC.seal(KEY, NEGATIVE, 0)
    assert CODEC.open(KEY, blob).kind == NEGATIVE
    with pytest.raises(CodecError):
        CODEC.open("t:r:v1:other", blob)
    with pytest.raises(CodecError):
        CODEC.open(KEY, blob[:1] + b"%016x" % 9 + blob[17:])  # version edited
    with pytest.raises(CodecError):
        Codec(secrets.token_bytes(32)).open(KEY, blob)  # another cache key
    assert CODEC.open(KEY, CODEC.seal(KEY, TOMBSTONE, 7)).version == 7


def test_keys_are_hmacs_of_the_id() -> None:
    space = KeySpace("p", secrets.token_bytes(32))
    key = space.record("001090000001")
    assert key.startswith("p:r:v1:") and "001090000001" not in key
    assert key == space.record("001090000001") != space.former("001090000001")
    assert KeySpace("p", secrets.token_bytes(32)).record("001090000001") != key


def _forms(text: str) -> list[bytes]:
    folded = unicodedata.normalize("NFD", text).encode("ascii", "ignore").decode()
    return [f.encode() for f in (text, folded, folded.upper())] + [text.encode("utf-16-le")]


async def test_a_dump_of_redis_holds_no_personal_data(
    pg_pool: asyncpg.Pool, source: CountingSource, make_lookup: LookupFactory
) -> None:
    people = {new_id(): name for name in ("Phạm Minh Châu", "Đỗ Hoàng Long", "Vũ Thị Hạnh")}
    birth = dt.date(1987, 11, 23)
    for id12, name in people.items():
        await add_citizen(pg_pool, id12, name=name, birth=birth, former=id12[3:])
    lookup = await make_lookup(source)
    await lookup.get_many([*people, new_id()])
    await lookup.resolve_former([i[3:] for i in people])
    assert lookup.redis is not None
    await lookup.redis.drain()

    client, dump = lookup.redis.client, []
    async for key in client.scan_iter(match=lookup.keyspace.pattern, count=100):
        dump.append(key)
        dump.append(await client.get(key))
    assert len(dump) == 2 * (len(people) * 2 + 1)
    secrets_ = [b"1987-11-23", b"23111987", b"19871123", str(birth.toordinal()).encode()]
    for id12, name in people.items():
        secrets_ += [id12.encode(), id12[3:].encode(), *_forms(name)]
        secrets_ += [word.encode() for word in name.split()]
    for blob in dump:
        for secret in secrets_:
            assert secret not in blob
