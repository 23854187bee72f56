"""Cache values: exact round trip and bound to their key; Redis keys are HMACs of the ID."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache.codec import NEGATIVE, RECORD, TOMBSTONE, Codec, CodecError, pack_record, unpack_record
from cache.keyspace import KeySpace
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


def test_keys_are_the_documented_hmac_also_when_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import hashlib
    import hmac

    from cache import keyspace

    monkeypatch.setattr(keyspace, "KEY_MEMO_MAX", 2)
    secret = secrets.token_bytes(32)
    space = KeySpace("p", secret)

    def expected(domain: bytes, value: str) -> str:
        mac = hmac.new(secret, domain + value.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    ids = [f"00109000000{i}" for i in range(5)]
    for _ in range(2):  # computed, then remembered (the memo emptied when full on the way)
        for id12 in ids:
            assert space.record(id12) == f"p:r:v1:{expected(b'id12:', id12)}"
    assert space.former("123456789") == f"p:f:v1:{expected(b'id9:', '123456789')}"
