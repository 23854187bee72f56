"""The probing limit's Redis keys made in bulk are the keys ``attempts_key`` defines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.adapters import attempts
from verify.adapters.attempts import KeyMaker, RedisAttemptLimiter, attempts_key

NUMBERS = st.text("0123456789", min_size=9, max_size=12)


@given(
    st.binary(min_size=1, max_size=100),  # keys longer than SHA-256's block are hashed first
    st.integers(0, 10**9),
    st.lists(NUMBERS, max_size=5),
)
def test_a_key_maker_makes_the_defined_keys(key: bytes, agency: int, numbers: list[str]) -> None:
    expected = [attempts_key("cv", key, agency, n) for n in numbers]
    maker = KeyMaker("cv", key, agency)
    assert maker.keys(numbers) == expected
    assert [maker.key(n) for n in numbers] == expected


@given(st.integers(0, 3), st.lists(NUMBERS, unique=True, max_size=8))
def test_keys_of_a_batch_are_key_of_each(agency: int, numbers: list[str]) -> None:
    limiter = RedisAttemptLimiter(None, prefix="cv", hmac_key=b"k" * 32)
    first = limiter.keys_of(agency, numbers)
    assert first == [attempts_key("cv", b"k" * 32, agency, n) for n in numbers]
    assert limiter.keys_of(agency, numbers) == first  # from the memo now
    assert [limiter.key_of(agency, n) for n in numbers] == first


def test_the_memo_stays_bounded_across_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attempts, "KEY_MEMO_MAX", 5)
    limiter = RedisAttemptLimiter(None, prefix="cv", hmac_key=b"k" * 32)
    for n in range(6):
        numbers = [f"00109000{n}{i:03d}" for i in range(n + 1)]  # up to 6: over the bound
        keys = limiter.keys_of(n % 2, numbers)
        assert keys == [attempts_key("cv", b"k" * 32, n % 2, x) for x in numbers]
        assert sum(len(memo) for memo in limiter._keys.values()) <= 5
