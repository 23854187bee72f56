"""HMAC-SHA256 with its pads absorbed once makes the bytes of hmac.digest."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from verify.service.audit import subject_of
from verify.service.keyed_hash import HmacSha256


@given(
    st.binary(max_size=200),  # empty, shorter than a block, a block, longer (hashed first)
    st.binary(max_size=80),
    st.lists(st.binary(max_size=100), max_size=5),
)
def test_the_same_bytes_as_hmac_digest(key: bytes, prefix: bytes, messages: list[bytes]) -> None:
    mac = HmacSha256(key, prefix)
    expected = [hmac.digest(key, prefix + m, "sha256") for m in messages]
    assert mac.digests(messages) == expected
    assert [mac.digest(m) for m in messages] == expected


@given(st.binary(min_size=1, max_size=100), st.from_regex(r"\A[0-9]{9,12}\Z"))
def test_an_audit_subject_is_the_hmac_of_the_number(key: bytes, id_number: str) -> None:
    # the audit's subject (and the access history that finds a person's rows by it) must
    # keep the bytes of every row already written
    assert subject_of(key, id_number) == hmac.digest(key, id_number.encode("ascii"), "sha256")
