"""Request ids: the caller's when it is safe to keep, else 128 fresh random bits."""

from __future__ import annotations

import re

from verify.http.middleware import _RandomIds


def test_fresh_ids_are_32_hex_digits_and_never_repeat_across_refills() -> None:
    ids = _RandomIds()
    made = [ids.next() for _ in range(3 * 256 + 5)]  # three refills and a bit
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in made)
    assert len(set(made)) == len(made)


def test_two_generators_do_not_hand_out_the_same_ids() -> None:
    a, b = _RandomIds(), _RandomIds()
    assert {a.next() for _ in range(300)}.isdisjoint({b.next() for _ in range(300)})
