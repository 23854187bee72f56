"""The synthetic population of `verify seed`: citizens, cards and former IDs, vectorised.

Pure generation, no I/O. Deterministic for a given seed and ``today``: chunk ``k`` (up to
100,000 people) is drawn from ``numpy.random.PCG64([seed, k])`` alone, so it comes out the
same whether made inline or by any number of worker processes, in any order.

Every person is drawn as columns (numpy arrays) from the tables of
:mod:`verify.adapters.seed_names`: gender, age (the 2019 pyramid), birth and home province,
family name, middle and given names, address. Cards follow the renewal rules of
:func:`verify.domain.cards.card_expiry` (a vectorised copy, checked against it by the tests).

ID numbers: digits 1-6 from birth province, century and gender, year; digits 7-12 are serial
index ``k * 256 + n`` (the n-th person of that prefix in chunk k) through the bijection
``i * 738163 + offset mod 10^6``: unique without a dedupe set. Former CMND numbers likewise,
from index ``k * 100,000 + n`` through a bijection mod 10^9.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from verify.adapters import seed_cards as cards_mod
from verify.adapters.seed_names import STREETS, WARDS, SeedTables

CHUNK_SIZE = 100_000  # part of the output: changing it changes the population of a seed

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


class SeedError(Exception):
    """The seed cannot run: the register is not empty, a bad count, or an ID prefix is full."""


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
HOUSE_NUMBERS = 399  # "Số 1" .. "Số 399"

ID_SPACE = 1_000_000  # digits 7-12
SERIALS_PER_CHUNK = 256  # per ID prefix; a chunk of 100k people draws ~90 at most
MAX_CITIZENS = ID_SPACE // SERIALS_PER_CHUNK * CHUNK_SIZE  # 390 million
ID_MULT = 738_163  # coprime to 10^6: c -> c * ID_MULT + offset is a bijection
FORMER_SPACE = 1_000_000_000
FORMER_MULT = 387_420_489  # 3^18, coprime to 10^9
EPOCH = dt.date(1970, 1, 1).toordinal()  # numpy's datetime64[D] counts days from here


@dataclass(frozen=True, slots=True)
class People:
    """One chunk's citizens as columns (dates in days since 1970-01-01)."""

    id_number: I64
    family: I64  # index into SeedTables.families
    given: I64  # index into male names, then female names (offset by len(male_names))
    birth: I64
    year_only: B
    female: B
    deceased: B
    home: I64  # residence province index
    house: I64  # 0..HOUSE_NUMBERS-1
    street: I64
    ward: I64


@dataclass(frozen=True, slots=True)
class Former:
    former_id: I64
    id_number: I64


@dataclass(frozen=True, slots=True)
class ChunkData:
    people: People
    cards: cards_mod.Cards
    former: Former

    @property
    def counts(self) -> tuple[int, int, int]:
        return len(self.people.id_number), len(self.cards.id_number), len(self.former.former_id)


GUIDE_BITS = 16  # buckets of the draw tables' guides: 2**16


class Table:
    """A table to draw from, given by its cumulative weights, with a guide: which entries a
    uniform draw in each of 2**16 equal buckets of [0, 1) can land on.

    ``pick`` returns exactly ``np.searchsorted(cum, r * cum[-1], side="right")`` (capped at
    the last entry), but a binary search per draw over unsorted draws was a fifth of a seed
    loader's CPU. The bucket of ``r`` is ``floor(r * 2**16)``, exact; ``x = r * cum[-1]`` is
    monotone in ``r``, so every draw of bucket b lands between the entries found for the
    bucket's two edges. Where those are at most one apart (all but a few percent of the draws:
    buckets holding several boundaries, the long tail of rare names), one comparison decides;
    the rest get the binary search.
    """

    def __init__(self, cum: npt.NDArray[np.float64]) -> None:
        self.cum = cum
        self.total = float(cum[-1])
        edges = np.arange((1 << GUIDE_BITS) + 1, dtype=np.float64) / (1 << GUIDE_BITS)
        found = np.searchsorted(cum, edges * self.total, side="right").astype(np.int64)
        self.low, self.high = found[:-1], found[1:]
        self.ceiling = np.r_[cum, np.inf]  # cum[len(cum)]: past the end, never <= a draw

    def pick(self, rng: np.random.Generator, n: int) -> I64:
        return self.draw(rng.random(n))

    def draw(self, r: npt.NDArray[np.float64]) -> I64:
        """The entries that uniform numbers ``r`` in [0, 1) pick."""
        x = r * self.total
        bucket = (r * (1 << GUIDE_BITS)).astype(np.int64)
        low = self.low[bucket]
        drawn = low + (self.ceiling[low] <= x)
        wide = np.flatnonzero(self.high[bucket] - low > 1)
        if len(wide):
            drawn[wide] = np.searchsorted(self.cum, x[wide], side="right")
        capped: I64 = np.minimum(drawn, len(self.cum) - 1)
        return capped


def _pick(rng: np.random.Generator, table: Table, n: int) -> I64:
    """``n`` draws from a table given by its cumulative weights."""
    return table.pick(rng, n)


class Population:
    """The generator. Chunk ``k`` depends only on the seed, ``today`` and ``k``."""

    def __init__(self, seed: int, today: dt.date) -> None:
        self.seed = seed
        offsets = np.random.Generator(np.random.PCG64([seed, 2**32]))
        self.id_offset = int(offsets.integers(ID_SPACE))
        self.former_offset = int(offsets.integers(FORMER_SPACE))
        self.today = today.toordinal() - EPOCH
        self.max_age = min(100, today.year - FIRST_YEAR - 2)  # born in 1900 or later
        self.t = SeedTables.build(self.max_age, YEAR_ONLY_BY_AGE, DECEASED_BY_AGE)
        f64 = np.float64
        self.age_cum = Table(np.asarray(self.t.age_cum, f64))
        self.province_cum = Table(np.asarray(self.t.province_cum, f64))
        self.destination_cum = Table(np.asarray(self.t.destination_cum, f64))
        self.family_cum = Table(np.asarray(self.t.family_cum, f64))
        self.male_cum = Table(np.asarray(self.t.male_cum, f64))
        self.female_cum = Table(np.asarray(self.t.female_cum, f64))
        self.year_only_p = np.asarray(self.t.year_only, f64)
        self.deceased_p = np.asarray(self.t.deceased, f64)
        self.code_ints = np.asarray([int(c) for c in self.t.codes], np.int64)
        self.n_male = len(self.t.male_names)
        self.cards = cards_mod.CardRules(self.today)

    def chunk(self, index: int, n: int) -> ChunkData:
        if n > CHUNK_SIZE or n < 0 or (index + 1) * SERIALS_PER_CHUNK > ID_SPACE:
            raise SeedError(f"at most {MAX_CITIZENS:,} citizens, in chunks of {CHUNK_SIZE:,}")
        rng = np.random.Generator(np.random.PCG64([self.seed, index]))
        female = rng.random(n) >= MALE_SHARE
        age = _pick(rng, self.age_cum, n)
        birth = self.today - ((age + rng.random(n)) * DAYS_PER_YEAR).astype(np.int64)
        year_only = (age >= YEAR_ONLY_FROM_AGE) & (rng.random(n) < self.year_only_p[age])
        year = cards_mod.year_of(birth)
        birth = np.where(year_only, cards_mod.january_first(year), birth)
        place = _pick(rng, self.province_cum, n)
        moved = _pick(rng, self.destination_cum, n)
        home = np.where(rng.random(n) < STAY_HOME_SHARE, place, moved)
        given = np.where(
            female,
            _pick(rng, self.female_cum, n) + self.n_male,
            _pick(rng, self.male_cum, n),
        )
        id_number = self._id_numbers(index, place, year, female)
        people = People(
            id_number=id_number,
            family=_pick(rng, self.family_cum, n),
            given=given,
            birth=birth,
            year_only=year_only,
            female=female,
            deceased=rng.random(n) < self.deceased_p[age],
            home=home,
            house=rng.integers(0, HOUSE_NUMBERS, n),
            street=rng.integers(0, len(STREETS), n),
            ward=rng.integers(0, len(WARDS), n),
        )
        cards = self.cards.draw(rng, id_number, birth, age)
        adult_before = (age >= cards_mod.CARD_AGE) & (year < FORMER_BEFORE_YEAR)
        has_former = adult_before & (rng.random(n) < FORMER_SHARE)
        return ChunkData(people, cards, self._former(index, id_number[has_former]))

    def _id_numbers(self, index: int, place: I64, year: I64, female: B) -> I64:
        """Unique IDs: the rank of each person among those of their prefix in this chunk."""
        key = (place * 10_000 + year) * 2 + female
        order = np.argsort(key, kind="stable")
        ranked = key[order]
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        sizes = np.diff(np.r_[starts, len(ranked)])
        if len(sizes) and sizes.max() > SERIALS_PER_CHUNK:
            raise SeedError("a chunk drew too many people of one birth province, year and gender")
        rank = np.empty_like(key)
        rank[order] = np.arange(len(key)) - np.repeat(starts, sizes)
        serial = index * SERIALS_PER_CHUNK + rank
        offset = (self.id_offset + key * 7919) % ID_SPACE
        century = (year - FIRST_YEAR) // 100
        digit4 = century * 2 + female
        zero = (
            self.code_ints[place] * 1_000_000_000 + digit4 * 100_000_000 + (year % 100) * ID_SPACE
        )
        ids: I64 = zero + (serial * ID_MULT + offset) % ID_SPACE
        return ids

    def _former(self, index: int, holders: I64) -> Former:
        count = index * CHUNK_SIZE + np.arange(len(holders), dtype=np.int64)
        return Former((count * FORMER_MULT + self.former_offset) % FORMER_SPACE, holders)


def chunk_sizes(count: int) -> list[int]:
    """The sizes of the chunks of a population of ``count``, in order."""
    return [min(CHUNK_SIZE, count - start) for start in range(0, count, CHUNK_SIZE)]
