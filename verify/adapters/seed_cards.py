"""The identity cards of the synthetic population, drawn as columns (`verify seed`).

A barcode CCCD (2016-2020) for some, the chip card campaign (2021-mid 2023) for every adult,
then renewals at the renewal ages; cards for under-14s since 1 July 2024. Older cards are
active (superseded) or lost; some lost their current card and got a replacement.

:func:`expiry` is :func:`verify.domain.cards.card_expiry` over arrays (the tests check one
against the other); dates are days since 1970-01-01 (numpy's ``datetime64[D]``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from verify.domain.cards import GRACE_YEARS, RENEWAL_AGES

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

CARD_AGE = 14
DAYS_TO_14 = 5113
OLD_CARDS = (dt.date(2016, 1, 1), dt.date(2020, 12, 31))
OLD_CARD_SHARE = 0.35
CAMPAIGN = (dt.date(2021, 1, 1), dt.date(2023, 6, 30))
CHILD_CARDS_FROM = dt.date(2024, 7, 1)
CHILD_CARD_SHARE = 0.08
FIRST_CARD_DELAY_DAYS = 180  # after the 14th birthday
RENEWAL_DELAY_DAYS = 45
LATE_SHARE = 0.04  # renew up to two years late: their current card is expired meanwhile
LATE_DAYS = 730
REPLACED_SHARE = 0.03  # lost their card and got a new one
SUPERSEDED_LOST_SHARE = 0.05
CURRENT_LOST = 0.007
CURRENT_REVOKED = 0.003
STATUSES = ("active", "lost", "revoked")  # Cards.status indexes these
ACTIVE, LOST, REVOKED = 0, 1, 2
NEVER = -(2**31)  # expiry of a card that never expires

_EPOCH = dt.date(1970, 1, 1).toordinal()
_AGES = np.asarray(RENEWAL_AGES, np.int64)


def _days(day: dt.date) -> int:
    return day.toordinal() - _EPOCH


@dataclass(frozen=True, slots=True)
class Cards:
    """A chunk's cards, by person (in the chunk's order), then issue date."""

    person: I64  # index of the holder in the chunk
    id_number: I64
    issue: I64
    expiry: I64  # NEVER: no expiry
    status: I64  # index into STATUSES


class _Calendar:
    """Year, month and day of every day from 1900 to 2299, and the first day of each month:
    table look-ups instead of datetime64 conversions (the seed's hottest loop)."""

    def __init__(self) -> None:
        self.first = _days(dt.date(1900, 1, 1))
        days = np.arange(self.first, _days(dt.date(2300, 1, 1)), dtype=np.int64).astype("M8[D]")
        months = days.astype("M8[M]")
        years = days.astype("M8[Y]")
        self.year = years.astype(np.int64) + 1970
        self.month = (months - years.astype("M8[M]")).astype(np.int64) + 1
        self.day = (days - months.astype("M8[D]")).astype(np.int64) + 1
        all_months = np.arange((1900 - 1970) * 12, (2300 - 1970) * 12, dtype=np.int64)
        self.month_start = all_months.astype("M8[M]").astype("M8[D]").astype(np.int64)

    def ymd(self, days: I64) -> tuple[I64, I64, I64]:
        i = days - self.first
        return self.year[i], self.month[i], self.day[i]

    def month_first(self, year: I64, month: I64) -> I64:
        starts: I64 = self.month_start[(year - 1900) * 12 + month - 1]
        return starts


_CAL = _Calendar()


def expiry(birth: I64, issue: I64) -> I64:
    """card_expiry over arrays: the birthday at the next renewal age, or NEVER."""
    by, bm, bd = _CAL.ymd(birth)
    iy, im, idd = _CAL.ymd(issue)
    age = iy - by - ((im * 32 + idd) < (bm * 32 + bd))
    nxt = np.searchsorted(_AGES, age, side="right")
    grace = nxt < len(_AGES)
    grace[grace] = age[grace] >= _AGES[nxt[grace]] - GRACE_YEARS
    nxt = nxt + grace
    never = nxt >= len(_AGES)
    at = _AGES[np.minimum(nxt, len(_AGES) - 1)]
    # a 29 February birthday in a common year: 1 February + 28 days = 1 March
    out: I64 = _CAL.month_first(by + at, bm) + bd - 1
    return np.where(never, NEVER, out)


class CardRules:
    def __init__(self, today: int) -> None:
        self.today = today
        self.campaign = (_days(CAMPAIGN[0]), _days(CAMPAIGN[1]) - _days(CAMPAIGN[0]) + 1)
        self.old = (_days(OLD_CARDS[0]), _days(OLD_CARDS[1]) - _days(OLD_CARDS[0]) + 1)
        self.child_from = _days(CHILD_CARDS_FROM)

    def draw(self, rng: np.random.Generator, ids: I64, birth: I64, age: I64) -> Cards:
        n, today = len(ids), self.today
        adult = age >= CARD_AGE
        start = np.maximum(self.child_from, birth + 1)
        child_first = start + (rng.random(n) * (today - start + 1)).astype(np.int64)
        campaign = self.campaign[0] + (rng.random(n) * self.campaign[1]).astype(np.int64)
        at_14 = birth + DAYS_TO_14 + (rng.random(n) * FIRST_CARD_DELAY_DAYS).astype(np.int64)
        first = np.where(adult, np.maximum(campaign, at_14), child_first)
        valid = np.where(adult, first <= today, start <= today)
        has = valid & (adult | (rng.random(n) < CHILD_CARD_SHARE))
        who = np.flatnonzero(has)
        parts = [(who, first[who])]
        parts += self._renewals(rng, who, birth, first[who])
        parts.append(self._old(rng, np.flatnonzero(has & adult), birth))
        person = np.concatenate([p for p, _ in parts])
        issue = np.concatenate([i for _, i in parts])
        person, issue = _sorted(person, issue)
        person, issue, status = self._statuses(rng, person, issue)
        return Cards(person, ids[person], issue, expiry(birth[person], issue), status)

    def _renewals(
        self, rng: np.random.Generator, who: I64, birth: I64, issue: I64
    ) -> list[tuple[I64, I64]]:
        """Each renewal at the previous card's expiry (a little late, some very late)."""
        out = []
        ends = expiry(birth[who], issue)
        while len(who):
            live = ends != NEVER
            who, ends = who[live], ends[live]
            late = np.where(rng.random(len(who)) < LATE_SHARE, LATE_DAYS, RENEWAL_DELAY_DAYS)
            renewal = ends + (rng.random(len(who)) * late).astype(np.int64)
            due = renewal <= self.today
            who, renewal = who[due], renewal[due]
            out.append((who, renewal))
            ends = expiry(birth[who], renewal)
        return out

    def _old(self, rng: np.random.Generator, who: I64, birth: I64) -> tuple[I64, I64]:
        """A barcode card before the campaign for some adults."""
        who = who[rng.random(len(who)) < OLD_CARD_SHARE]
        start = np.maximum(self.old[0], birth[who] + DAYS_TO_14)
        end = self.old[0] + self.old[1]
        old = start + (rng.random(len(who)) * (end - start)).astype(np.int64)
        keep = start < end
        return who[keep], old[keep]

    def _statuses(self, rng: np.random.Generator, person: I64, issue: I64) -> tuple[I64, I64, I64]:
        """Superseded cards active or lost; replacements of lost current cards; the current."""
        last = np.r_[person[1:] != person[:-1], True]
        status = np.where(rng.random(len(person)) < SUPERSEDED_LOST_SHARE, LOST, ACTIVE)
        current = np.flatnonzero(last)
        replaced = current[
            (rng.random(len(current)) < REPLACED_SHARE) & (issue[current] < self.today)
        ]
        gap = self.today - issue[replaced]
        new_issue = issue[replaced] + 1 + (rng.random(len(replaced)) * gap).astype(np.int64)
        status[replaced] = LOST
        is_current = last.copy()
        is_current[replaced] = False
        person = np.r_[person, person[replaced]]
        issue = np.r_[issue, new_issue]
        is_current = np.r_[is_current, np.ones(len(replaced), np.bool_)]
        draw = rng.random(len(person))
        now = np.where(
            draw < CURRENT_LOST, LOST, np.where(draw < CURRENT_LOST + CURRENT_REVOKED, REVOKED, 0)
        )
        status = np.where(is_current, now, np.r_[status, np.zeros(len(replaced), np.int64)])
        order = _by_person_then_issue(person, issue)
        return person[order], issue[order], status[order]


def _sorted(person: I64, issue: I64) -> tuple[I64, I64]:
    order = _by_person_then_issue(person, issue)
    return person[order], issue[order]


def _by_person_then_issue(person: I64, issue: I64) -> I64:
    """The order of ``np.lexsort((issue, person))`` (stable), from one argsort of a combined
    key: a third of lexsort's time. Issue dates are days since 1970, below 2**20."""
    if len(issue) and (issue.min() < 0 or issue.max() >= 1 << 20):
        raise ValueError("an issue date out of 1970-01-01 .. 4840")
    order: I64 = np.argsort((person << 20) | issue, kind="stable")
    return order


def first_day() -> int:
    """The first and last days (since 1970-01-01) the calendar tables cover."""
    return _CAL.first


def last_day() -> int:
    return _CAL.first + len(_CAL.year) - 1


def year_of(days: I64) -> I64:
    year: I64 = _CAL.year[days - _CAL.first]
    return year


def january_first(year: I64) -> I64:
    return _CAL.month_first(year, np.ones_like(year))
