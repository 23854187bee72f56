"""Identity cards: when a card expires and what a presented card's status is.

Renewal ages (Law on Identity 2023, art. 21): 14, 25, 40 and 60. A card is
valid until the birthday at which its holder reaches the next renewal age
after the issue; a card issued within two years before such an age lasts to
the following one, and a card issued at 58 or later never expires.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from verify.domain.model import Card, CardCheck, CardResult, CardState

RENEWAL_AGES: Final = (14, 25, 40, 60)
GRACE_YEARS: Final = 2  # a card issued this close before a renewal age skips it
# the answers (frozen values): shared rather than built per claim
CHECKS: Final = {result: CardCheck(result) for result in CardResult}
_WITHDRAWN: Final = (CardState.LOST, CardState.REVOKED)


def age_on(birth: dt.date, day: dt.date) -> int:
    """Age in whole years on ``day`` (someone born on 29 February ages on 1 March)."""
    before_birthday = (day.month, day.day) < (birth.month, birth.day)
    return day.year - birth.year - int(before_birthday)


def birthday(birth: dt.date, age: int) -> dt.date:
    """The day the person turns ``age``; a 29 February birthday falls on 1 March otherwise."""
    year = birth.year + age
    try:
        return birth.replace(year=year)
    except ValueError:  # 29 February in a common year
        return dt.date(year, 3, 1)


def card_expiry(birth: dt.date, issue: dt.date) -> dt.date | None:
    """The expiry date of a card issued on ``issue``, or None when it never expires.

    With ``age`` the whole years at issue and ``next`` the first renewal age above
    it: if ``age >= next - 2`` (issued within two years before it) the card lasts to
    the renewal age after ``next``; with no such age (60 is the last) it never
    expires. So issued at 10 -> 14, 12 -> 25, 22 -> 25, 23 or 24 -> 40, 57 -> 60,
    58 or later -> None. Its expiry date is that birthday (see :func:`is_expired`).
    """
    age = age_on(birth, issue)
    upcoming = [renewal for renewal in RENEWAL_AGES if renewal > age]
    if upcoming and age >= upcoming[0] - GRACE_YEARS:
        upcoming = upcoming[1:]
    if not upcoming:
        return None
    return birthday(birth, upcoming[0])


def is_expired(card: Card, today: dt.date) -> bool:
    """Expired after its expiry date: a card is valid through the date printed on it.

    The card reads "Có giá trị đến" (valid until) that date, so the day itself counts.
    """
    return card.expiry_date is not None and today > card.expiry_date


def check_card(cards: tuple[Card, ...], presented: dt.date | None, today: dt.date) -> CardCheck:
    """The status of the card issued on ``presented`` among a person's ``cards``.

    Where several hold, the first wins: revoked (lost or revoked), superseded (an
    older card than the latest issued), expired. Uses the stored expiry dates.
    """
    if presented is None:
        return CHECKS[CardResult.NOT_PROVIDED]
    for card in cards:  # plain loops: this runs for every claim with a card
        if card.issue_date == presented:
            break
    else:
        return CHECKS[CardResult.UNKNOWN_CARD]
    if card.state in _WITHDRAWN:
        return CHECKS[CardResult.REVOKED]
    for other in cards:
        if other.issue_date > presented:
            return CHECKS[CardResult.SUPERSEDED]
    if is_expired(card, today):
        return CHECKS[CardResult.EXPIRED]
    return CHECKS[CardResult.VALID]
