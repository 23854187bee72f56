"""The synthetic population of `verify seed`: rows of citizens, cards and former IDs.

Pure generation, no I/O. Deterministic for a given seed and ``today``: chunk ``k`` (50,000
people) is drawn from ``random.Random(f"{seed}/{k}")`` alone, so it comes out the same
whether made inline or by any number of worker processes (:mod:`verify.adapters.seed_workers`).

ID numbers: digits 1-6 from :func:`make_id12` (birth province, century and gender, year);
digits 7-12 are serial index ``k * 128 + n`` (the n-th person of that prefix in chunk k)
through the bijection ``i * 738163 + offset mod 10^6``: unique without a dedupe set. Former
CMND numbers likewise, from index ``k * 50,000 + n`` through a bijection mod 10^9.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import NamedTuple

from verify.adapters import seed_names as tables
from verify.domain.cards import card_expiry
from verify.domain.id_number import make_id12
from verify.domain.model import Gender

CHUNK_SIZE = 50_000  # part of the output: changing it changes the population of a seed


class SeedError(Exception):
    """The seed cannot run: the register is not empty, a bad count, or an ID prefix is full."""


class Chunk(NamedTuple):
    """Rows of a chunk in COPY text format, and how many of each."""

    citizen_rows: bytes
    card_rows: bytes
    former_rows: bytes
    citizens: int
    cards: int
    former_ids: int


# The population's shape.
DAYS_PER_YEAR = 365.2425
FIRST_YEAR = 1900  # digit 4 = 0/1: the oldest century an ID number can say
MALE_SHARE = 0.4975  # ~99 men to 100 women
STAY_HOME_SHARE = 0.85  # live in their birth province
YEAR_ONLY_FROM_AGE = 70
YEAR_ONLY_BY_AGE = ((YEAR_ONLY_FROM_AGE, 0.15), (80, 0.40))  # elderly known only by their year
DECEASED_BY_AGE = ((0, 0.001), (60, 0.02), (80, 0.08))  # ~0.5% overall
FORMER_SHARE = 0.40  # adults born before 2000 with a former 9-digit CMND number
FORMER_BEFORE_YEAR = 2000
CARD_AGE = 14
DAYS_TO_14 = 5113

# Cards: a barcode CCCD (2016-2020) for some, the chip card campaign (2021-mid 2023) for every
# adult, then renewals at the renewal ages; cards for under-14s since 1 July 2024.
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

ID_SPACE = 1_000_000  # digits 7-12
SERIALS_PER_CHUNK = 128  # per ID prefix; a chunk of 50k people draws ~35 at most
MAX_CITIZENS = ID_SPACE // SERIALS_PER_CHUNK * CHUNK_SIZE  # 390 million
ID_MULT = 738_163  # coprime to 10^6: c -> c * ID_MULT + offset is a bijection
FORMER_SPACE = 1_000_000_000
FORMER_MULT = 387_420_489  # 3^18, coprime to 10^9
NULL = "\\N"
TF = ("f", "t")
GENDER_CHAR = ("M", "F")
HOUSE_NUMBERS = tuple(str(n) for n in range(1, 400))

_Card = tuple[int, dt.date | None]  # issue ordinal, expiry (None: never)
_Person = tuple[bool, int, int, int, int, str, str]  # female, age, born, place, home, ...


def _window(span: tuple[dt.date, dt.date], today: dt.date) -> tuple[int, int]:
    """First ordinal and number of days of a period, cut at today."""
    first, last = span[0].toordinal(), min(span[1], today).toordinal()
    return first, max(1, last - first + 1)


class Population:
    """The generator. Chunk ``k`` depends only on the seed, ``today`` and ``k``: chunks can be
    made in any order, by any number of processes, and the rows are the same."""

    def __init__(self, seed: int, today: dt.date) -> None:
        self.seed = seed
        self.rng = random.Random(f"{seed}/offsets")
        self.rnd = self.rng.random
        self.id_offset = self.rng.randrange(ID_SPACE)
        self.former_offset = self.rng.randrange(FORMER_SPACE)
        self.today = today.toordinal()
        self.base = dt.date(FIRST_YEAR, 1, 1).toordinal()
        self.dates = [dt.date.fromordinal(o) for o in range(self.base, self.today + 1)]
        self.iso = [d.isoformat() for d in self.dates]
        self.max_age = min(100, today.year - FIRST_YEAR - 2)  # born in 1900 or later
        self.t = tables.SeedTables.build(self.max_age, YEAR_ONLY_BY_AGE, DECEASED_BY_AGE)
        self.prefixes: dict[int, tuple[int, int]] = {}  # key -> (ID with serial 0, offset)
        self.slots: dict[int, list[int]] = {}
        self.first_serial = self.former_count = 0
        self.campaign = _window(CAMPAIGN, today)
        self.old_cards = _window(OLD_CARDS, today)
        self.child_from = CHILD_CARDS_FROM.toordinal()

    def _start_chunk(self, index: int, n: int) -> None:
        """Chunk ``index`` owns serial indexes [index * 128, +128) of every ID prefix and former
        ID indexes [index * CHUNK_SIZE, +n): unique across chunks without shared state."""
        if n > CHUNK_SIZE or (index + 1) * SERIALS_PER_CHUNK > ID_SPACE:
            raise SeedError(f"at most {MAX_CITIZENS:,} citizens, in chunks of {CHUNK_SIZE:,}")
        self.rng = random.Random(f"{self.seed}/{index}")
        self.rnd = self.rng.random
        self.slots = {}
        self.first_serial = index * SERIALS_PER_CHUNK
        self.former_count = index * CHUNK_SIZE

    def chunk(self, index: int, n: int) -> Chunk:
        self._start_chunk(index, n)
        t, choices, rnd = self.t, self.rng.choices, self.rnd
        females = choices((False, True), cum_weights=(MALE_SHARE, 1.0), k=n)
        ages = choices(t.ages, cum_weights=t.age_cum, k=n)
        borns = [self.today - int((age + rnd()) * DAYS_PER_YEAR) for age in ages]
        places = choices(range(len(t.codes)), cum_weights=t.province_cum, k=n)
        homes = choices(range(len(t.codes)), cum_weights=t.destination_cum, k=n)
        homes = [p if rnd() < STAY_HOME_SHARE else h for p, h in zip(places, homes, strict=True)]
        families = choices(t.families, cum_weights=t.family_cum, k=n)
        addresses = [
            f"Số {number}, đường {street}, phường {ward}, {t.province_names[home]}"
            for number, street, ward, home in zip(
                choices(HOUSE_NUMBERS, k=n), choices(tables.STREETS, k=n),
                choices(tables.WARDS, k=n), homes, strict=True,
            )
        ]  # fmt: skip
        people = zip(females, ages, borns, places, homes, families, addresses, strict=True)
        citizens, cards, former = self._rows(people, self._given_names(females))
        self._check_id_space()
        encoded = ("".join(citizens).encode(), "".join(cards).encode(), "".join(former).encode())
        return Chunk(*encoded, n, len(cards), len(former))

    def _rows(
        self, people: Iterator[_Person], names: tuple[Iterator[str], Iterator[str]]
    ) -> tuple[list[str], list[str], list[str]]:
        """COPY text rows of citizens, cards and former IDs (each list joined per chunk)."""
        rnd, dates, iso, base, slots = self.rnd, self.dates, self.iso, self.base, self.slots
        year_only, deceased, code_ints = self.t.year_only, self.t.deceased, self.t.code_ints
        citizens: list[str] = []
        cards: list[str] = []
        former: list[str] = []
        for female, age, born, place, home, family, address in people:
            year_day = age >= YEAR_ONLY_FROM_AGE and rnd() < year_only[age]
            birth = dates[born - base]
            if year_day:
                birth = birth.replace(month=1, day=1)
                born = birth.toordinal()
            key = (place * 10_000 + birth.year) * 2 + female
            slot = slots.get(key) or self._new_slot(key, place, female, birth.year)
            serial = slot[1]
            slot[1] = serial + 1
            pid = slot[0] + (serial * ID_MULT + slot[2]) % ID_SPACE
            citizens.append(
                f"{pid}\t{family} {next(names[female])}\t{iso[born - base]}\t{TF[year_day]}"
                f"\t{GENDER_CHAR[female]}\t{TF[rnd() < deceased[age]]}\t{code_ints[home]}"
                f"\t{address}\n"
            )
            if age >= CARD_AGE or rnd() < CHILD_CARD_SHARE:
                self._cards(pid, birth, born, age, cards)
            if age >= CARD_AGE and birth.year < FORMER_BEFORE_YEAR and rnd() < FORMER_SHARE:
                former.append(f"{self._next_former()}\t{pid}\n")
        return citizens, cards, former

    def _given_names(self, females: list[bool]) -> tuple[Iterator[str], Iterator[str]]:
        """Middle + given names for the men and for the women, indexed by ``female``."""
        t, choices = self.t, self.rng.choices
        n_female = sum(females)
        men = choices(t.male_names, cum_weights=t.male_cum, k=len(females) - n_female)
        women = choices(t.female_names, cum_weights=t.female_cum, k=n_female)
        return iter(men), iter(women)

    def _new_slot(self, key: int, place: int, female: bool, year: int) -> list[int]:
        """An ID prefix in this chunk: [the ID with serial 0, next serial index, offset]."""
        prefix = self.prefixes.get(key)
        if prefix is None:
            gender = Gender.FEMALE if female else Gender.MALE
            zero = int(make_id12(self.t.codes[place], gender, year, 0))
            prefix = self.prefixes[key] = (zero, (self.id_offset + key * 7919) % ID_SPACE)
        slot = self.slots[key] = [prefix[0], self.first_serial, prefix[1]]
        return slot

    def _check_id_space(self) -> None:
        last = self.first_serial + SERIALS_PER_CHUNK
        if any(slot[1] > last for slot in self.slots.values()):
            raise SeedError("a chunk drew too many people of one birth province, year and gender")

    def _next_former(self) -> int:
        count = self.former_count
        self.former_count = count + 1
        return (count * FORMER_MULT + self.former_offset) % FORMER_SPACE

    def _cards(self, pid: int, birth: dt.date, born: int, age: int, out: list[str]) -> None:
        first = self._first_card(born, age)
        if first is None:
            return
        cards = self._renewals(birth, first)
        old = self._old_card(born) if age >= CARD_AGE else None
        if old is not None:
            cards.insert(0, (old, card_expiry(birth, self.dates[old - self.base])))
        statuses = self._statuses(birth, cards)
        iso, base = self.iso, self.base
        for (issue, expiry), status in zip(cards, statuses, strict=True):
            text = expiry.isoformat() if expiry else NULL
            out.append(f"{pid}\t{iso[issue - base]}\t{text}\t{status}\n")

    def _first_card(self, born: int, age: int) -> int | None:
        if age < CARD_AGE:
            start = max(self.child_from, born + 1)
            return (
                start + int(self.rnd() * (self.today - start + 1)) if start <= self.today else None
            )
        campaign = self.campaign[0] + int(self.rnd() * self.campaign[1])
        at_14 = born + DAYS_TO_14 + int(self.rnd() * FIRST_CARD_DELAY_DAYS)
        first = max(campaign, at_14)
        return first if first <= self.today else None

    def _old_card(self, born: int) -> int | None:
        if self.rnd() >= OLD_CARD_SHARE:
            return None
        start = max(self.old_cards[0], born + DAYS_TO_14)
        end = self.old_cards[0] + self.old_cards[1]
        return start + int(self.rnd() * (end - start)) if start < end else None

    def _renewals(self, birth: dt.date, first: int) -> list[_Card]:
        """The first card and each renewal at its expiry (a little late, some very late)."""
        expiry = card_expiry(birth, self.dates[first - self.base])
        cards = [(first, expiry)]
        while expiry is not None:
            late = LATE_DAYS if self.rnd() < LATE_SHARE else RENEWAL_DELAY_DAYS
            renewal = expiry.toordinal() + int(self.rnd() * late)
            if renewal > self.today:
                break
            expiry = card_expiry(birth, self.dates[renewal - self.base])
            cards.append((renewal, expiry))
        return cards

    def _statuses(self, birth: dt.date, cards: list[_Card]) -> list[str]:
        """Older cards active (superseded) or lost; the current one mostly active.

        Some lost their current card and got a replacement: appended to ``cards``.
        """
        rnd = self.rnd
        statuses = ["lost" if rnd() < SUPERSEDED_LOST_SHARE else "active" for _ in cards[1:]]
        last = cards[-1][0]
        if rnd() < REPLACED_SHARE and last < self.today:
            replaced = last + 1 + int(rnd() * (self.today - last))
            cards.append((replaced, card_expiry(birth, self.dates[replaced - self.base])))
            statuses.append("lost")
        draw = rnd()
        current = "lost" if draw < CURRENT_LOST else "active"
        if CURRENT_LOST <= draw < CURRENT_LOST + CURRENT_REVOKED:
            current = "revoked"
        return [*statuses, current]


def chunk_sizes(count: int) -> list[int]:
    """The sizes of the chunks of a population of ``count``, in order."""
    return [min(CHUNK_SIZE, count - start) for start in range(0, count, CHUNK_SIZE)]
