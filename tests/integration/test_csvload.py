"""`verify load` against a real PostgreSQL: good rows in, bad rows reported, re-runs are no-ops."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest

from verify.adapters.csvload import CARD_COLUMNS, CITIZEN_COLUMNS, LoadError, RowError, load_csv
from verify.domain.id_number import make_id12
from verify.domain.model import Gender

AN = make_id12("001", Gender.MALE, 1990, 123)
BINH = make_id12("079", Gender.FEMALE, 2003, 45)
CUC = make_id12("038", Gender.FEMALE, 1938, 7)
UNKNOWN = make_id12("048", Gender.MALE, 1985, 999)
EM = make_id12("001", Gender.MALE, 1991, 1)

CITIZENS = [
    [AN, "Nguyễn Văn An", "1990-05-14", "male", "living", "012345678", "001", "Số 1, Hà Nội"],
    [BINH, "Trần Thị Bình", "2003-01-02", "female", "living", "", "079", "Quận 1, TP HCM"],
    [CUC, "Lê Thị Cúc", "1938", "female", "deceased", "", "038", ""],
]
CARDS = [
    [AN, "2016-03-01", "2030-05-14", "active"],
    [AN, "2021-07-01", "2030-05-14", "lost"],
    [AN, "2022-01-10", "2030-05-14", "active"],
    [BINH, "2021-08-01", "2028-01-02", "active"],
    [CUC, "2021-09-09", "", "active"],
]


def write_csv(
    path: Path, columns: Sequence[str], rows: list[list[str]], *, bom: bool = False
) -> Path:
    lines = [",".join(columns), *(",".join(_quote(v) for v in row) for row in rows)]
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _quote(value: str) -> str:
    return f'"{value}"' if "," in value or "\n" in value else value


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(db_url, timeout=10)
    yield connection
    await connection.close()


@pytest.fixture
def citizens_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "citizens.csv", CITIZEN_COLUMNS, CITIZENS)


@pytest.fixture
def cards_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "cards.csv", CARD_COLUMNS, CARDS)


async def _versions(conn: asyncpg.Connection) -> dict[int, tuple[int, str]]:
    rows = await conn.fetch("SELECT id_number, version, xmin::text AS x FROM citizens")
    return {r["id_number"]: (r["version"], r["x"]) for r in rows}


async def test_a_good_file_loads(
    conn: asyncpg.Connection, citizens_csv: Path, cards_csv: Path
) -> None:
    report = await load_csv(conn, citizens=citizens_csv, cards=cards_csv, progress=False)
    assert report.errors == []
    assert (report.citizens_loaded, report.cards_loaded, report.former_ids_loaded) == (3, 5, 1)
    cuc = await conn.fetchrow("SELECT * FROM citizens WHERE id_number = $1", int(CUC))
    assert cuc is not None
    assert cuc["birth_date"] == dt.date(1938, 1, 1) and cuc["birth_year_only"]
    assert cuc["deceased"] and cuc["gender"] == b"F" and cuc["province_code"] == 38
    assert await conn.fetchval("SELECT id_number FROM former_ids") == int(AN)
    never = await conn.fetchval("SELECT expiry_date FROM id_cards WHERE id_number = $1", int(CUC))
    assert never is None
    statuses = await conn.fetch(
        "SELECT status FROM id_cards WHERE id_number = $1 ORDER BY issue_date", int(AN)
    )
    assert [r["status"] for r in statuses] == ["active", "lost", "active"]
    # migration 002: cards loaded with their person in one transaction bump no version
    assert {v for v, _ in (await _versions(conn)).values()} == {1}


async def test_bad_rows_are_reported_by_line_and_the_good_ones_loaded(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    other = make_id12("001", Gender.MALE, 1970, 5)
    await conn.execute(
        "INSERT INTO citizens (id_number, full_name, birth_date, gender, province_code)"
        " VALUES ($1, 'Phạm Văn Đông', '1970-01-01', 'M', 1)",
        int(other),
    )
    await conn.execute("INSERT INTO former_ids VALUES (111111111, $1)", int(other))
    rows = [
        *CITIZENS,  # lines 2-4
        ["12345", "Bad Id", "1990-01-01", "male", "living", "", "001", ""],  # 5
        [EM, " ", "1991-02-30", "man", "alive", "12", "003", ""],  # 6
        [AN, "Nguyễn Văn An", "1990-05-14", "male", "living", "", "001", ""],  # 7: duplicate
        [make_id12("001", Gender.MALE, 1992, 2), "Hồ Văn Em", "1992-03-04", "male", "living",
         "111111111", "001", ""],  # 8: former ID of another person
        [BINH, "too", "few"],  # 9
    ]  # fmt: skip
    path = write_csv(tmp_path / "citizens.csv", CITIZEN_COLUMNS, rows)
    report = await load_csv(conn, citizens=path, cards=None, progress=False)
    assert report.citizens_loaded == 3
    assert [(e.file, e.line) for e in report.errors] == [(str(path), n) for n in (5, 6, 7, 8, 9)]
    reasons = {e.line: e.reason for e in report.errors}
    assert reasons[5].startswith("id_number: ")
    assert reasons[6] == (
        "full_name: must not be empty; date_of_birth: must be a real calendar date "
        "(YYYY-MM-DD or YYYY); gender: must be male or female; status: must be living or "
        "deceased; former_id: must be a 9-digit former ID number or empty; province_code: "
        "must be one of the 63 three-digit province codes"
    )
    assert reasons[7] == "id_number: the same person is on line 2"
    assert reasons[8] == "former_id: already belongs to another person in the register"
    assert reasons[9] == "expected 8 fields, found 3"
    assert all("12345" not in e.reason and "111111111" not in e.reason for e in report.errors)
    assert await conn.fetchval("SELECT count(*) FROM citizens") == 4


async def test_running_the_same_files_again_writes_nothing(
    conn: asyncpg.Connection, citizens_csv: Path, cards_csv: Path
) -> None:
    await load_csv(conn, citizens=citizens_csv, cards=cards_csv, progress=False)
    before = await _versions(conn)
    cards_before = await conn.fetch("SELECT *, xmin::text AS x FROM id_cards ORDER BY 1, 2")
    report = await load_csv(conn, citizens=citizens_csv, cards=cards_csv, progress=False)
    assert report.errors == [] and report.citizens_loaded == 3 and report.cards_loaded == 5
    assert await _versions(conn) == before  # same version, same row version (xmin)
    assert await conn.fetch("SELECT *, xmin::text AS x FROM id_cards ORDER BY 1, 2") == cards_before


async def test_a_changed_name_is_updated_and_bumps_the_version(
    conn: asyncpg.Connection, citizens_csv: Path, tmp_path: Path
) -> None:
    await load_csv(conn, citizens=citizens_csv, cards=None, progress=False)
    changed = [list(row) for row in CITIZENS]
    changed[1][1] = "Trần Thị Bình Minh"
    path = write_csv(tmp_path / "changed.csv", CITIZEN_COLUMNS, changed)
    await load_csv(conn, citizens=path, cards=None, progress=False)
    rows = await conn.fetch("SELECT id_number, full_name, version FROM citizens")
    by_id = {r["id_number"]: (r["full_name"], r["version"]) for r in rows}
    assert by_id[int(BINH)] == ("Trần Thị Bình Minh", 2)
    assert by_id[int(AN)][1] == by_id[int(CUC)][1] == 1


async def test_cards_file_alone_checks_owners_duplicates_and_dates(
    conn: asyncpg.Connection, citizens_csv: Path, tmp_path: Path
) -> None:
    await load_csv(conn, citizens=citizens_csv, cards=None, progress=False)
    rows = [
        *CARDS,  # lines 2-6
        [UNKNOWN, "2021-01-01", "", "active"],  # 7: nobody
        [AN, "2022-01-10", "2030-05-14", "revoked"],  # 8: same card as line 4
        [BINH, "2024-01-01", "2023-01-01", "active"],  # 9: expires before issue
        [BINH, "2024-13-01", "", "stolen"],  # 10
    ]
    path = write_csv(tmp_path / "cards.csv", CARD_COLUMNS, rows)
    report = await load_csv(conn, citizens=None, cards=path, progress=False)
    assert report.cards_loaded == 5
    assert report.errors == [
        RowError(str(path), 7, "id_number: no such person in the citizens file or the register"),
        RowError(str(path), 8, "issue_date: a card of the same person and issue date is on line 4"),
        RowError(str(path), 9, "expiry_date: before issue_date"),
        RowError(
            str(path),
            10,
            "issue_date: must be a real calendar date (YYYY-MM-DD); "
            "status: must be active, lost or revoked",
        ),
    ]
    # a new card for a person already in the register bumps their version once
    versions = await _versions(conn)
    newer = write_csv(tmp_path / "new.csv", CARD_COLUMNS, [[BINH, "2025-01-01", "", "active"]])
    await load_csv(conn, citizens=None, cards=newer, progress=False)
    assert (await _versions(conn))[int(BINH)][0] == versions[int(BINH)][0] + 1


async def test_bom_columns_in_another_order_and_multiline_fields(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    order = list(reversed(CITIZEN_COLUMNS))
    rows = [[dict(zip(CITIZEN_COLUMNS, r, strict=True))[c] for c in order] for r in CITIZENS]
    rows[0][0] = "Số 1,\nHà Nội"  # address spans two lines: the next row starts on line 4
    rows[1][order.index("gender")] = "male-ish"
    path = write_csv(tmp_path / "c.csv", [c.upper() for c in order], rows, bom=True)
    report = await load_csv(conn, citizens=path, cards=None, progress=False)
    assert report.citizens_loaded == 2
    assert report.errors == [RowError(str(path), 4, "gender: must be male or female")]
    address = await conn.fetchval("SELECT address FROM citizens WHERE id_number = $1", int(AN))
    assert address == "Số 1, Hà Nội"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (CITIZEN_COLUMNS[:-1], "missing column(s) address"),
        ((*CITIZEN_COLUMNS, "nickname"), "unknown column(s) nickname"),
        ((*CITIZEN_COLUMNS, "address"), "repeated column(s) address"),
        ((AN, *CITIZEN_COLUMNS[1:]), "1 unrecognised value(s), no header row?"),
    ],
)
async def test_a_wrong_header_loads_nothing(
    conn: asyncpg.Connection, tmp_path: Path, header: tuple[str, ...], message: str
) -> None:
    path = write_csv(tmp_path / "c.csv", header, [])
    with pytest.raises(LoadError) as caught:
        await load_csv(conn, citizens=path, cards=None, progress=False)
    assert message in str(caught.value)
    assert AN not in str(caught.value)


async def test_a_file_error_rolls_back_the_other_file(
    conn: asyncpg.Connection, citizens_csv: Path, tmp_path: Path
) -> None:
    cards = tmp_path / "cards.csv"
    cards.write_bytes(b"id_number,issue_date,expiry_date,status\n" + b"\xff\xfe,,,\n")
    with pytest.raises(LoadError, match="not UTF-8"):
        await load_csv(conn, citizens=citizens_csv, cards=cards, progress=False)
    assert await conn.fetchval("SELECT count(*) FROM citizens") == 0


async def test_a_name_with_control_characters_is_a_bad_row(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    rows = [
        CITIZENS[0],  # line 2
        [BINH, "Trần\u200bThị Bình", "2003-01-02", "female", "living", "", "079", ""],  # 3
        [CUC, "Lê Thị\x07 Cúc", "1938", "female", "deceased", "", "038", ""],  # 4
    ]
    path = write_csv(tmp_path / "citizens.csv", CITIZEN_COLUMNS, rows)
    report = await load_csv(conn, citizens=path, cards=None, progress=False)
    assert report.citizens_loaded == 1
    reason = "full_name: must not contain control or format characters"
    assert [(e.line, e.reason) for e in report.errors] == [(3, reason), (4, reason)]
