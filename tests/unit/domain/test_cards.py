"""Card expiry by the renewal ages, and the status of a presented card."""

from __future__ import annotations

import datetime as dt

import pytest

from verify.domain.cards import age_on, card_expiry, check_card
from verify.domain.model import Card, CardCheck, CardResult, CardState

D = dt.date
BIRTH = D(1990, 6, 15)
LEAPLING = D(2000, 2, 29)


@pytest.mark.parametrize(
    ("birth", "issue", "expected"),
    [
        (BIRTH, D(2000, 6, 15), D(2004, 6, 15)),  # issued at 10 -> 14
        (BIRTH, D(2002, 6, 14), D(2004, 6, 15)),  # 11y11m: not yet within two years of 14
        (BIRTH, D(2002, 6, 15), D(2015, 6, 15)),  # 12: within two years before 14 -> 25
        (BIRTH, D(2003, 12, 1), D(2015, 6, 15)),  # 13 -> 25
        (BIRTH, D(2004, 6, 15), D(2015, 6, 15)),  # on the 14th birthday -> 25
        (BIRTH, D(2013, 5, 1), D(2015, 6, 15)),  # 22y11m -> 25
        (BIRTH, D(2013, 6, 15), D(2030, 6, 15)),  # 23 -> 40
        (BIRTH, D(2015, 6, 1), D(2030, 6, 15)),  # 24y11m -> 40
        (BIRTH, D(2015, 6, 15), D(2030, 6, 15)),  # on the 25th birthday -> 40
        (BIRTH, D(2027, 6, 14), D(2030, 6, 15)),  # 36y11m -> 40
        (BIRTH, D(2028, 6, 15), D(2050, 6, 15)),  # 38 -> 60
        (BIRTH, D(2030, 6, 15), D(2050, 6, 15)),  # 40 -> 60
        (BIRTH, D(2047, 6, 15), D(2050, 6, 15)),  # 57 -> 60
        (BIRTH, D(2048, 6, 14), D(2050, 6, 15)),  # 57y11m -> 60
        (BIRTH, D(2048, 6, 15), None),  # 58: never expires
        (BIRTH, D(2055, 1, 1), None),  # 64
        (D(1940, 1, 1), D(2016, 1, 1), None),  # 76
        (LEAPLING, D(2016, 8, 1), D(2025, 3, 1)),  # 25th birthday in a common year
        (LEAPLING, D(2025, 2, 28), D(2040, 2, 29)),  # 24 (ages on 1 March) -> 40, a leap year
        (LEAPLING, D(2056, 2, 28), D(2060, 2, 29)),  # 55 -> 60
        (LEAPLING, D(2058, 2, 28), D(2060, 2, 29)),  # still 57
        (LEAPLING, D(2058, 3, 1), None),  # 58
        (D(2010, 2, 28), D(2011, 1, 1), D(2024, 2, 28)),
    ],
)
def test_card_expiry(birth: dt.date, issue: dt.date, expected: dt.date | None) -> None:
    assert card_expiry(birth, issue) == expected


@pytest.mark.parametrize(
    ("birth", "day", "expected"),
    [
        (BIRTH, D(2000, 6, 14), 9),
        (BIRTH, D(2000, 6, 15), 10),
        (LEAPLING, D(2001, 2, 28), 0),
        (LEAPLING, D(2001, 3, 1), 1),
        (LEAPLING, D(2004, 2, 29), 4),
    ],
)
def test_age_on(birth: dt.date, day: dt.date, expected: int) -> None:
    assert age_on(birth, day) == expected


TODAY = D(2026, 11, 28)
OLD_LOST = Card(D(2016, 1, 1), D(2025, 1, 1), CardState.LOST)
OLD_ACTIVE = Card(D(2019, 1, 1), D(2025, 1, 1), CardState.ACTIVE)
OLD_REVOKED = Card(D(2020, 1, 1), D(2040, 1, 1), CardState.REVOKED)
CURRENT = Card(D(2025, 1, 10), D(2045, 1, 1), CardState.ACTIVE)
CARDS = (OLD_LOST, OLD_ACTIVE, OLD_REVOKED, CURRENT)


def expiring(expiry: dt.date | None, state: CardState = CardState.ACTIVE) -> tuple[Card, ...]:
    return (Card(D(2020, 1, 1), expiry, state),)


@pytest.mark.parametrize(
    ("cards", "presented", "expected"),
    [
        (CARDS, None, CardResult.NOT_PROVIDED),
        ((), None, CardResult.NOT_PROVIDED),
        ((), D(2020, 1, 1), CardResult.UNKNOWN_CARD),
        (CARDS, D(2025, 1, 11), CardResult.UNKNOWN_CARD),
        (CARDS, D(2016, 1, 1), CardResult.REVOKED),  # lost, superseded and expired
        (CARDS, D(2020, 1, 1), CardResult.REVOKED),  # revoked and superseded
        (CARDS, D(2019, 1, 1), CardResult.SUPERSEDED),  # superseded and expired
        (CARDS, D(2025, 1, 10), CardResult.VALID),
        (expiring(D(2026, 11, 27)), D(2020, 1, 1), CardResult.EXPIRED),
        (expiring(D(2026, 11, 28)), D(2020, 1, 1), CardResult.VALID),  # valid on its expiry day
        (expiring(None), D(2020, 1, 1), CardResult.VALID),
        (expiring(D(2026, 1, 1), CardState.LOST), D(2020, 1, 1), CardResult.REVOKED),
        (expiring(None, CardState.REVOKED), D(2020, 1, 1), CardResult.REVOKED),
        ((CURRENT, OLD_ACTIVE), D(2019, 1, 1), CardResult.SUPERSEDED),  # order does not matter
    ],
)
def test_check_card(
    cards: tuple[Card, ...], presented: dt.date | None, expected: CardResult
) -> None:
    assert check_card(cards, presented, TODAY) == CardCheck(expected)


def test_check_card_uses_stored_expiry() -> None:
    # the stored expiry wins over a recomputation (the register is the truth)
    card = Card(D(2020, 1, 1), D(2021, 1, 1), CardState.ACTIVE)
    assert check_card((card,), card.issue_date, TODAY) == CardCheck(CardResult.EXPIRED)
