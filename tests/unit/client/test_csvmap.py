"""Column maps and rows of an agency's CSV read as claims."""

from __future__ import annotations

import pytest
from citizen_verify_client.csvmap import Columns, MapError, RowProblem, parse_map, row_claim

HEADER = ["MaHoSo", "SoDinhDanh", "HoTen", "NgaySinh", "GioiTinh", "NgayCap"]
MAP = "id_number=SoDinhDanh, full_name=HoTen,date_of_birth=NgaySinh,gender=GioiTinh"


def test_parse_map() -> None:
    assert parse_map(MAP) == {
        "id_number": "SoDinhDanh",
        "full_name": "HoTen",
        "date_of_birth": "NgaySinh",
        "gender": "GioiTinh",
    }
    assert parse_map("") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("full_name", "not field=Header"),
        ("full_name=", "not field=Header"),
        ("name=HoTen", "unknown claim field"),
        ("full_name=A,full_name=B", "mapped twice"),
    ],
)
def test_bad_maps(text: str, message: str) -> None:
    with pytest.raises(MapError, match=message):
        parse_map(text)


def test_resolve_maps_and_defaults_case_insensitively() -> None:
    header = ["\ufeffsodinhdanh", "HoTen", "card_issue_date", "Reference"]
    columns = Columns.resolve(header, {"id_number": "SoDinhDanh", "full_name": "HOTEN"})
    assert columns.index == {"id_number": 0, "full_name": 1, "card_issue_date": 2, "reference": 3}


def test_resolve_names_missing_columns_and_needs_an_id() -> None:
    with pytest.raises(MapError, match="SoCCCD"):
        Columns.resolve(HEADER, {"id_number": "SoCCCD"})
    with pytest.raises(MapError, match="no id_number"):
        Columns.resolve(HEADER, {"full_name": "HoTen"})


def test_rows() -> None:
    columns = Columns.resolve(HEADER, parse_map(MAP + ",card_issue_date=NgayCap"))
    row = ["HS-1", " 001203012345 ", "Nguyễn Văn An", "14/05/2003", "nu", "1/7/2021"]
    assert row_claim(row, columns) == {
        "id_number": "001203012345",
        "full_name": "Nguyễn Văn An",
        "date_of_birth": "2003-05-14",
        "gender": "female",
        "card_issue_date": "2021-07-01",
    }
    assert row_claim(["HS-2", "001203012345", "", "", "", ""], columns) == {
        "id_number": "001203012345"
    }
    assert row_claim(["HS-3", "001203012345"], columns) == {"id_number": "001203012345"}


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (["", "", "An", "", "", ""], ("missing_field", "id_number")),
        (["", "1", "An", "30/02/2000", "", ""], ("invalid_date", "date_of_birth")),
        (["", "1", "An", "", "X", ""], ("invalid_field", "gender")),
        (["", "1", "An", "", "", "2021"], ("invalid_date", "card_issue_date")),
    ],
)
def test_bad_rows_name_the_field_never_the_value(row: list[str], problem: tuple[str, str]) -> None:
    columns = Columns.resolve(HEADER, parse_map(MAP + ",card_issue_date=NgayCap"))
    result = row_claim(row, columns)
    assert isinstance(result, RowProblem)
    assert (result.code, result.field) == problem
    assert not any(cell and cell in result.detail for cell in row if len(cell) > 1)
