"""`verify load`: register records from CSV files, checked row by row, upserted in one transaction.

Files are UTF-8 (a BOM is fine) with a header row naming exactly the columns of DESIGN.md, in
any order. A wrong header, bytes that are not UTF-8 or a broken CSV structure is a file-level
:class:`LoadError` and nothing is loaded. Otherwise every bad row is reported with its line
number and a reason that never repeats the row's values (they are personal data), and all
the good rows are loaded.

The file is streamed in chunks into temporary tables by COPY (bounded memory), the checks
that need the whole file or the register run in SQL there, and the rows are upserted by key
with ``ON CONFLICT ... DO UPDATE ... WHERE`` something differs: running the same file again
writes nothing and bumps no version. All of it in one transaction.
"""

from __future__ import annotations

import asyncio
import csv
import re
import unicodedata
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from tqdm import tqdm

from verify.domain.dates import parse_date, parse_partial_date
from verify.domain.errors import ValidationError
from verify.domain.id_number import is_valid_former, parse_id_number
from verify.domain.model import Precision
from verify.domain.provinces import PROVINCES

CITIZEN_COLUMNS = (
    "id_number",
    "full_name",
    "date_of_birth",
    "gender",
    "status",
    "former_id",
    "province_code",
    "address",
)
CARD_COLUMNS = ("id_number", "issue_date", "expiry_date", "status")
CHUNK_ROWS = 20_000
_COLUMN_NAME = re.compile(r"[a-z_]{1,40}")

Parser = Callable[[str], object]
_Row = tuple[int, list[str]]  # line number, values in the order of the *_COLUMNS
_Batch = list[_Row | tuple[int, str]]  # or (line number, why the row cannot be read)


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class LoadReport:
    citizens_loaded: int  # good rows: inserted, updated, or already as the file says
    cards_loaded: int
    former_ids_loaded: int
    errors: list[RowError]


class LoadError(Exception):
    """The file as a whole cannot be loaded (header, encoding, CSV structure)."""


class _BadRow(Exception):
    pass


# --- field parsers: a value, or ValidationError whose detail never echoes the input ---


def _invalid(detail: str) -> ValidationError:
    return ValidationError("invalid_field", detail)


def _id12(raw: str) -> int:
    return int(parse_id_number(raw, "id_number", allow_former=False))


def _name(raw: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        raise _invalid("must not be empty")
    return name


def _birth(raw: str) -> tuple[Any, bool]:
    birth = parse_partial_date(raw.strip(), "date_of_birth")
    return birth.value, birth.precision is Precision.YEAR


def _choice(options: dict[str, object], expected: str) -> Parser:
    def parse(raw: str) -> object:
        value = options.get(raw.strip().lower())
        if value is None:
            raise _invalid(f"must be {expected}")
        return value

    return parse


def _former(raw: str) -> int | None:
    value = raw.strip()
    if not value:
        return None
    if not is_valid_former(value):
        raise _invalid("must be a 9-digit former ID number or empty")
    return int(value)


def _province(raw: str) -> int:
    value = raw.strip()
    if value not in PROVINCES:
        raise _invalid("must be one of the 63 three-digit province codes")
    return int(value)


def _text(raw: str) -> str:
    return " ".join(unicodedata.normalize("NFC", raw).split())


def _day(field: str) -> Parser:
    return lambda raw: parse_date(raw.strip(), field)


def _expiry(raw: str) -> object:
    return parse_date(raw.strip(), "expiry_date") if raw.strip() else None


_CITIZEN_PARSERS: tuple[Parser, ...] = (
    _id12,
    _name,
    _birth,
    _choice({"male": "M", "female": "F"}, "male or female"),
    _choice({"living": False, "deceased": True}, "living or deceased"),
    _former,
    _province,
    _text,
)
_CARD_PARSERS: tuple[Parser, ...] = (
    _id12,
    _day("issue_date"),
    _expiry,
    _choice({s: s for s in ("active", "lost", "revoked")}, "active, lost or revoked"),
)


def _reason(field: str, error: ValidationError) -> str:
    return f"{field}: {error.detail.removeprefix(f'{field} ')}"


def _parse(values: list[str], columns: tuple[str, ...], parsers: tuple[Parser, ...]) -> list[Any]:
    """Every field parsed, or :class:`_BadRow` naming each bad field."""
    parsed: list[Any] = []
    problems: list[str] = []
    for column, parse, raw in zip(columns, parsers, values, strict=True):
        try:
            parsed.append(parse(raw))
        except ValidationError as e:
            problems.append(_reason(column, e))
    if problems:
        raise _BadRow("; ".join(problems))
    return parsed


def _citizen_record(line: int, values: list[str]) -> tuple[Any, ...]:
    id_number, name, (birth, year_only), gender, deceased, former, province, address = _parse(
        values, CITIZEN_COLUMNS, _CITIZEN_PARSERS
    )
    return (line, id_number, name, birth, year_only, gender, deceased, former, province, address)


def _card_record(line: int, values: list[str]) -> tuple[Any, ...]:
    id_number, issue, expiry, status = _parse(values, CARD_COLUMNS, _CARD_PARSERS)
    if expiry is not None and expiry < issue:
        raise _BadRow("expiry_date: before issue_date")
    return (line, id_number, issue, expiry, status)


# --- reading: header check, then batches of (line, values) ---


def _column_order(header: list[str] | None, columns: tuple[str, ...], name: str) -> list[int]:
    """Where each expected column is in the file; a wrong header is a :class:`LoadError`."""
    if header is None:
        raise LoadError(f"{name}: empty file, expected a header row: {', '.join(columns)}")
    found = [h.strip().lower() for h in header]
    missing = [c for c in columns if c not in found]
    unknown = [h for h in found if h not in columns]
    repeated = sorted({h for h in found if found.count(h) > 1})
    if not (missing or unknown or repeated):
        return [found.index(c) for c in columns]
    problems = [f"missing column(s) {', '.join(missing)}"] if missing else []
    if unknown:
        # echo only what looks like a column name: a file without header has data there
        shown = [h for h in unknown if _COLUMN_NAME.fullmatch(h)]
        hidden = len(unknown) - len(shown)
        words = shown + ([f"{hidden} unrecognised value(s), no header row?"] if hidden else [])
        problems.append(f"unknown column(s) {', '.join(words)}")
    if repeated:
        problems.append(f"repeated column(s) {', '.join(repeated)}")
    raise LoadError(f"{name}: {'; '.join(problems)} (expected: {', '.join(columns)})")


def _batches(path: Path, columns: tuple[str, ...]) -> Generator[_Batch, None, None]:
    """Batches of (line, values in column order), or (line, reason) for a wrong field count."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            order = _column_order(next(reader, None), columns, path.name)
            yield from _read_rows(reader, order)
        except UnicodeDecodeError:
            raise LoadError(f"{path.name}: not UTF-8 (line {reader.line_num + 1})") from None
        except csv.Error as e:
            raise LoadError(f"{path.name}: line {reader.line_num}: {e}") from None


def _read_rows(reader: Any, order: list[int]) -> Iterator[_Batch]:
    batch: _Batch = []
    last = reader.line_num
    for row in reader:
        line, last = last + 1, reader.line_num  # a quoted field may span lines: its first
        if not row:
            continue
        if len(row) != len(order):
            batch.append((line, f"expected {len(order)} fields, found {len(row)}"))
        else:
            batch.append((line, [row[i] for i in order]))
        if len(batch) >= CHUNK_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


# --- staging and upserting ---

_STAGE_CITIZENS = """
DROP TABLE IF EXISTS load_citizens;
CREATE TEMP TABLE load_citizens (
    line integer NOT NULL, id_number bigint NOT NULL, full_name text NOT NULL,
    birth_date date NOT NULL, birth_year_only boolean NOT NULL, gender text NOT NULL,
    deceased boolean NOT NULL, former_id bigint, province_code smallint NOT NULL,
    address text NOT NULL
) ON COMMIT DROP
"""
_STAGE_CARDS = """
DROP TABLE IF EXISTS load_cards;
CREATE TEMP TABLE load_cards (
    line integer NOT NULL, id_number bigint NOT NULL, issue_date date NOT NULL,
    expiry_date date, status text NOT NULL
) ON COMMIT DROP
"""

# Checks that need the whole file or the register: each removes its bad rows from the stage
# and returns (line, first line); the reason may name the first line, never a value.
_LATER_DUPLICATES = """
DELETE FROM {table} s USING (
    SELECT line, min(line) OVER (PARTITION BY {key}) AS first FROM {table} WHERE {where}
) d
WHERE s.line = d.line AND d.line <> d.first
RETURNING s.line, d.first
"""
_CITIZEN_CHECKS = (
    (
        _LATER_DUPLICATES.format(table="load_citizens", key="id_number", where="true"),
        "id_number: the same person is on line {first}",
    ),
    (
        _LATER_DUPLICATES.format(
            table="load_citizens", key="former_id", where="former_id IS NOT NULL"
        ),
        "former_id: the same former ID is on line {first}",
    ),
    (
        """DELETE FROM load_citizens s USING former_ids f
           WHERE f.former_id = s.former_id AND f.id_number <> s.id_number
           RETURNING s.line, 0""",
        "former_id: already belongs to another person in the register",
    ),
)
_CARD_CHECKS = (
    (
        _LATER_DUPLICATES.format(table="load_cards", key="id_number, issue_date", where="true"),
        "issue_date: a card of the same person and issue date is on line {first}",
    ),
    (
        """DELETE FROM load_cards s
           WHERE NOT EXISTS (SELECT 1 FROM citizens c WHERE c.id_number = s.id_number)
           RETURNING s.line, 0""",
        "id_number: no such person in the citizens file or the register",
    ),
)

_UPSERT_CITIZENS = """
INSERT INTO citizens AS c (id_number, full_name, birth_date, birth_year_only, gender,
                           deceased, province_code, address)
SELECT id_number, full_name, birth_date, birth_year_only, gender::"char",
       deceased, province_code, address
FROM load_citizens
ON CONFLICT (id_number) DO UPDATE SET
    full_name = EXCLUDED.full_name, birth_date = EXCLUDED.birth_date,
    birth_year_only = EXCLUDED.birth_year_only, gender = EXCLUDED.gender,
    deceased = EXCLUDED.deceased, province_code = EXCLUDED.province_code,
    address = EXCLUDED.address
WHERE (c.full_name, c.birth_date, c.birth_year_only, c.gender, c.deceased,
       c.province_code, c.address)
      IS DISTINCT FROM
      (EXCLUDED.full_name, EXCLUDED.birth_date, EXCLUDED.birth_year_only, EXCLUDED.gender,
       EXCLUDED.deceased, EXCLUDED.province_code, EXCLUDED.address)
"""
_UPSERT_FORMER_IDS = """
INSERT INTO former_ids (former_id, id_number)
SELECT former_id, id_number FROM load_citizens WHERE former_id IS NOT NULL
ON CONFLICT (former_id) DO NOTHING
"""
_COUNT_CITIZENS = "SELECT count(*), count(former_id) FROM load_citizens"
_UPSERT_CARDS = """
INSERT INTO id_cards AS k (id_number, issue_date, expiry_date, status)
SELECT id_number, issue_date, expiry_date, status FROM load_cards
ON CONFLICT (id_number, issue_date) DO UPDATE SET
    expiry_date = EXCLUDED.expiry_date, status = EXCLUDED.status
WHERE (k.expiry_date, k.status) IS DISTINCT FROM (EXCLUDED.expiry_date, EXCLUDED.status)
"""


@dataclass(frozen=True, slots=True)
class _Kind:
    columns: tuple[str, ...]  # of the CSV file
    record: Callable[[int, list[str]], tuple[Any, ...]]
    stage_sql: str
    stage_table: str
    stage_columns: tuple[str, ...]
    checks: tuple[tuple[str, str], ...]


_CITIZENS = _Kind(
    CITIZEN_COLUMNS,
    _citizen_record,
    _STAGE_CITIZENS,
    "load_citizens",
    ("line", "id_number", "full_name", "birth_date", "birth_year_only", "gender", "deceased",
     "former_id", "province_code", "address"),
    _CITIZEN_CHECKS,
)  # fmt: skip
_CARDS = _Kind(
    CARD_COLUMNS,
    _card_record,
    _STAGE_CARDS,
    "load_cards",
    ("line", "id_number", "issue_date", "expiry_date", "status"),
    _CARD_CHECKS,
)


async def load_csv(
    conn: asyncpg.Connection,
    *,
    citizens: Path | None,
    cards: Path | None,
    progress: bool = True,
) -> LoadReport:
    """Load a citizens file and/or a cards file (citizens first), all or nothing.

    Raises :class:`LoadError` for a file that cannot be read as a whole (nothing is loaded);
    bad rows are in the report's ``errors``, ordered by file and line.
    """
    errors: list[RowError] = []
    n_citizens = n_former = n_cards = 0
    async with conn.transaction():
        if citizens is not None:
            errors += await _stage(conn, citizens, _CITIZENS, progress)
            await conn.execute(_UPSERT_CITIZENS)
            await conn.execute(_UPSERT_FORMER_IDS)
            counts = await conn.fetchrow(_COUNT_CITIZENS)
            assert counts is not None
            n_citizens, n_former = counts
        if cards is not None:
            errors += await _stage(conn, cards, _CARDS, progress)
            await conn.execute(_UPSERT_CARDS)
            n_cards = await conn.fetchval("SELECT count(*) FROM load_cards")
    return LoadReport(n_citizens, n_cards, n_former, errors)


async def _stage(
    conn: asyncpg.Connection, path: Path, kind: _Kind, progress: bool
) -> list[RowError]:
    """COPY the file's good rows into the stage; the bad ones, sorted by line, are returned."""
    await conn.execute(kind.stage_sql)
    errors: list[RowError] = []
    bar = tqdm(desc=path.name, unit=" rows", unit_scale=True, disable=None if progress else True)
    with closing(_batches(path, kind.columns)) as batches, bar:
        while (
            batch := await asyncio.to_thread(_next_records, batches, kind, str(path))
        ) is not None:
            records, bad = batch
            errors += bad
            if records:
                await conn.copy_records_to_table(
                    kind.stage_table, records=records, columns=kind.stage_columns
                )
            bar.update(len(records) + len(bad))
    for query, reason in kind.checks:
        errors += [
            RowError(str(path), r[0], reason.format(first=r[1])) for r in await conn.fetch(query)
        ]
    return sorted(errors, key=lambda e: e.line)


def _next_records(
    batches: Iterator[_Batch], kind: _Kind, name: str
) -> tuple[list[tuple[Any, ...]], list[RowError]] | None:
    """The next batch parsed (in a worker thread): staging records and bad rows."""
    batch = next(batches, None)
    if batch is None:
        return None
    records: list[tuple[Any, ...]] = []
    errors: list[RowError] = []
    for line, values in batch:
        if isinstance(values, str):
            errors.append(RowError(name, line, values))
            continue
        try:
            records.append(kind.record(line, values))
        except _BadRow as e:
            errors.append(RowError(name, line, str(e)))
    return records, errors
