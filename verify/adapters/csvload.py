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
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from tqdm import tqdm

from verify.adapters.csv_rows import (
    CARD_COLUMNS,
    CITIZEN_COLUMNS,
    LoadError,
    Record,
    RowError,
    batches,
    card_record,
    citizen_record,
    next_records,
)

__all__ = ["CARD_COLUMNS", "CITIZEN_COLUMNS", "LoadError", "LoadReport", "RowError", "load_csv"]


@dataclass(frozen=True, slots=True)
class LoadReport:
    citizens_loaded: int  # good rows: inserted, updated, or already as the file says
    cards_loaded: int
    former_ids_loaded: int
    errors: list[RowError]


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
    record: Record
    stage_sql: str
    stage_table: str
    stage_columns: tuple[str, ...]
    checks: tuple[tuple[str, str], ...]


_CITIZENS = _Kind(
    CITIZEN_COLUMNS,
    citizen_record,
    _STAGE_CITIZENS,
    "load_citizens",
    ("line", "id_number", "full_name", "birth_date", "birth_year_only", "gender", "deceased",
     "former_id", "province_code", "address"),
    _CITIZEN_CHECKS,
)  # fmt: skip
_CARDS = _Kind(
    CARD_COLUMNS,
    card_record,
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
    with closing(batches(path, kind.columns)) as rows, bar:
        while (
            batch := await asyncio.to_thread(next_records, rows, kind.record, str(path))
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
