"""`verify seed`: a realistic synthetic population, loaded by COPY in one transaction.

Deterministic for a given seed, count and ``today``: chunk ``k`` (50,000 people) is drawn
from ``random.Random(f"{seed}/{k}")`` alone, so it comes out the same whether made inline or
by any number of worker processes (used for large counts, so that generation and COPY run
on all cores at once).

ID numbers: digits 1-6 from :func:`make_id12` (birth province, century and gender, year);
digits 7-12 are serial index ``k * 128 + n`` (the n-th person of that prefix in chunk k)
through the bijection ``i * 738163 + offset mod 10^6``: unique without a dedupe set. Former
CMND numbers likewise, from index ``k * 50,000 + n`` through a bijection mod 10^9.

Triggers: when the session is a superuser, the transaction runs with ``SET LOCAL
session_replication_role = replica``: no row triggers (version bumps, change log) and no
per-row foreign-key checks, the rows being consistent by construction; fine for the first
load of an empty register with an empty cache. Otherwise the ordinary triggers run (slower;
migration 002 spares the version bump per card of a person inserted in the same transaction).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import random
import struct
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
from tqdm import tqdm

from verify.adapters import seed_names as tables
from verify.domain.cards import card_expiry
from verify.domain.id_number import make_id12
from verify.domain.model import Gender

__all__ = ["SeedError", "SeedReport", "register_is_empty", "seed_register"]

CHUNK_SIZE = 50_000  # part of the output: changing it changes the population of a seed
PARALLEL_FROM = 100_000  # below this, starting worker processes costs more than it saves
MAX_WORKERS = 4
CITIZEN_COLUMNS = (
    "id_number",
    "full_name",
    "birth_date",
    "birth_year_only",
    "gender",
    "deceased",
    "province_code",
    "address",
)
CARD_COLUMNS = ("id_number", "issue_date", "expiry_date", "status")
FORMER_COLUMNS = ("former_id", "id_number")


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


@dataclass(frozen=True, slots=True)
class SeedReport:
    citizens: int
    cards: int
    former_ids: int
    seconds: float
    citizens_per_s: float
    triggers_bypassed: bool  # replica mode (superuser): no row triggers, no per-row FK checks


async def register_is_empty(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT NOT EXISTS (SELECT 1 FROM citizens)"))


async def seed_register(
    conn: asyncpg.Connection,
    *,
    count: int,
    seed: int,
    today: dt.date,
    progress: bool = True,
    force_progress: bool = False,
    parallel: bool | None = None,
) -> SeedReport:
    """Generate and load ``count`` citizens with their cards and former IDs, all or nothing.

    Raises :class:`SeedError` when the register is not empty. ``progress`` shows a tqdm bar on
    stderr when it is a terminal (``force_progress``: always). ``parallel`` (default: by size)
    generates in a worker process while the previous chunk is copied; the rows are the same.
    """
    if count < 0:
        raise SeedError("count must not be negative")
    started = time.perf_counter()
    use_worker = parallel if parallel is not None else _worth_a_worker(count)
    source = _worker_chunks if use_worker else _inline_chunks
    async with conn.transaction():
        await _claim_empty_register(conn)
        bypassed = await _bypass_triggers(conn)
        with _progress_bar(count, progress, force_progress) as bar:
            async with source(seed, today, count) as chunks:
                totals = await _copy_all(conn, chunks, bar)
    await conn.execute("ANALYZE citizens, id_cards, former_ids")
    seconds = time.perf_counter() - started
    rate = count / seconds if seconds > 0 else 0.0
    return SeedReport(count, totals[1], totals[2], seconds, rate, bypassed)


def _worth_a_worker(count: int) -> bool:
    return count >= PARALLEL_FROM and (os.cpu_count() or 1) >= 2


def _chunk_sizes(count: int) -> list[int]:
    return [min(CHUNK_SIZE, count - start) for start in range(0, count, CHUNK_SIZE)]


async def _claim_empty_register(conn: asyncpg.Connection) -> None:
    """Lock out concurrent writers (readers go on), then insist on an empty register."""
    await conn.execute("LOCK TABLE citizens IN SHARE ROW EXCLUSIVE MODE")
    if not await register_is_empty(conn):
        raise SeedError("the register is not empty: seed loads only into an empty register")


async def _bypass_triggers(conn: asyncpg.Connection) -> bool:
    """Replica mode for this transaction when allowed (superuser), else the ordinary path."""
    if await conn.fetchval("SELECT current_setting('is_superuser')") != "on":
        return False
    await conn.execute("SET LOCAL session_replication_role = replica")
    return True


def _progress_bar(count: int, progress: bool, force: bool) -> tqdm[Any]:
    disable: bool | None = None if progress else True  # None: only on a terminal
    if force:
        disable = False
    return tqdm(total=count, unit=" citizens", unit_scale=True, file=sys.stderr, disable=disable)


async def _copy_all(
    conn: asyncpg.Connection, chunks: AsyncIterator[Chunk], bar: tqdm[Any]
) -> tuple[int, int, int]:
    citizens = cards = former_ids = 0
    async for chunk in chunks:
        await _copy_chunk(conn, chunk)
        citizens, cards = citizens + chunk.citizens, cards + chunk.cards
        former_ids += chunk.former_ids
        bar.update(chunk.citizens)
    return citizens, cards, former_ids


async def _copy_chunk(conn: asyncpg.Connection, chunk: Chunk) -> None:
    await conn.copy_to_table(
        "citizens", source=io.BytesIO(chunk.citizen_rows), columns=CITIZEN_COLUMNS
    )
    if chunk.cards:
        await conn.copy_to_table(
            "id_cards", source=io.BytesIO(chunk.card_rows), columns=CARD_COLUMNS
        )
    if chunk.former_ids:
        await conn.copy_to_table(
            "former_ids", source=io.BytesIO(chunk.former_rows), columns=FORMER_COLUMNS
        )


@asynccontextmanager
async def _inline_chunks(
    seed: int, today: dt.date, count: int
) -> AsyncIterator[AsyncIterator[Chunk]]:
    population = Population(seed, today)

    async def generate() -> AsyncIterator[Chunk]:
        for index, n in enumerate(_chunk_sizes(count)):
            yield population.chunk(index, n)

    yield generate()


# Workers are plain `python -c` children writing framed chunks to stdout; worker w makes the
# chunks k with k % workers == w. A pipe's back-pressure keeps each about one chunk ahead,
# and unlike multiprocessing's spawn they never re-import the caller's __main__.
_FRAME = struct.Struct("!6Q")  # citizens, cards, former_ids, then the three byte lengths
_WORKER_CODE = (
    "import sys; from verify.adapters.seed import worker_main; sys.exit(worker_main(sys.argv[1:]))"
)


@asynccontextmanager
async def _worker_chunks(
    seed: int, today: dt.date, count: int
) -> AsyncIterator[AsyncIterator[Chunk]]:
    n_chunks = len(_chunk_sizes(count))
    workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1, n_chunks))
    procs: list[asyncio.subprocess.Process] = []
    try:
        for worker in range(workers):
            procs.append(await _start_worker(seed, today, count, worker, workers))
        yield _read_chunks(procs, n_chunks)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def _start_worker(
    seed: int, today: dt.date, count: int, worker: int, workers: int
) -> asyncio.subprocess.Process:
    args = (str(seed), today.isoformat(), str(count), str(worker), str(workers))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WORKER_CODE, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_worker_env(),
    )  # fmt: skip


def _worker_env() -> dict[str, str]:
    """This process's environment, with the folder holding the ``verify`` package importable."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{path}" if path else root}


async def _read_chunks(
    procs: list[asyncio.subprocess.Process], n_chunks: int
) -> AsyncIterator[Chunk]:
    for index in range(n_chunks):
        yield await _read_chunk(procs[index % len(procs)])


async def _read_chunk(proc: asyncio.subprocess.Process) -> Chunk:
    assert proc.stdout is not None and proc.stderr is not None
    try:
        head = _FRAME.unpack(await proc.stdout.readexactly(_FRAME.size))
        rows = [await proc.stdout.readexactly(length) for length in head[3:]]
    except asyncio.IncompleteReadError:
        detail = (await proc.stderr.read()).decode(errors="replace").strip()
        raise SeedError(f"a seed worker failed: {detail or 'no output'}") from None
    return Chunk(rows[0], rows[1], rows[2], head[0], head[1], head[2])


def worker_main(argv: list[str]) -> int:
    """A worker process: ``SEED TODAY COUNT WORKER WORKERS`` -> its chunks on stdout, in order."""
    seed, today, count = int(argv[0]), dt.date.fromisoformat(argv[1]), int(argv[2])
    worker, workers = int(argv[3]), int(argv[4])
    population = Population(seed, today)
    out = sys.stdout.buffer
    try:
        for index, n in enumerate(_chunk_sizes(count)):
            if index % workers == worker:
                chunk = population.chunk(index, n)
                rows = (chunk.citizen_rows, chunk.card_rows, chunk.former_rows)
                out.write(_FRAME.pack(*chunk[3:], *map(len, rows)))
                out.write(b"".join(rows))
                out.flush()
    except SeedError as e:
        print(e, file=sys.stderr)
        return 2
    except BrokenPipeError:  # the loader went away
        return 1
    return 0
