"""An agency's CSV rows read as claims through a column map (``full_name=HoTen,...``)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from citizen_verify_client.cells import CellError, parse_date, parse_gender
from citizen_verify_client.types import Claim

FIELDS = (
    "id_number",
    "full_name",
    "date_of_birth",
    "gender",
    "card_issue_date",
    "qr",
    "booking_name",
    "reference",
)


def _card_date(cell: str) -> str:
    return parse_date(cell, year_only=False)


def _text(cell: str) -> str:
    return cell.strip()


PARSERS: dict[str, Callable[[str], str]] = {
    "date_of_birth": parse_date,
    "card_issue_date": _card_date,
    "gender": parse_gender,
}


class MapError(ValueError):
    """A column map or header that cannot be used (names columns, never values)."""


def parse_map(text: str) -> dict[str, str]:
    """``field=Header,field=Header`` as {field: header}."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        field, sep, header = (s.strip() for s in part.partition("="))
        if not sep or not header:
            raise MapError(f"column map entry {part!r} is not field=Header")
        if field not in FIELDS:
            raise MapError(f"unknown claim field {field!r}: one of {', '.join(FIELDS)}")
        if field in mapping:
            raise MapError(f"claim field {field!r} is mapped twice")
        mapping[field] = header
    return mapping


def _norm(header: str) -> str:
    return unicodedata.normalize("NFC", header.strip().lstrip("\ufeff")).casefold()


@dataclass(frozen=True)
class Columns:
    """Which column (0-based) holds each claim field."""

    index: Mapping[str, int]

    @classmethod
    def resolve(cls, header: Sequence[str], mapping: Mapping[str, str]) -> Columns:
        """Mapped fields must name a column; unmapped fields are taken from a column of
        their own name when there is one. Headers compare case-insensitively."""
        where = {_norm(h): i for i, h in enumerate(header)}
        missing = [h for h in mapping.values() if _norm(h) not in where]
        if missing:
            raise MapError(f"column(s) not in the header: {', '.join(missing)}")
        index = {f: where[_norm(h)] for f, h in mapping.items()}
        index |= {f: where[f] for f in FIELDS if f not in index and f in where}
        if "id_number" not in index and "qr" not in index:
            raise MapError("no id_number (or qr) column: map one, e.g. id_number=SoDinhDanh")
        return cls(index)

    def position(self, name: str, header: Sequence[str]) -> int:
        where = {_norm(h): i for i, h in enumerate(header)}
        if _norm(name) not in where:
            raise MapError(f"column not in the header: {name}")
        return where[_norm(name)]


@dataclass(frozen=True)
class RowProblem:
    """Why a row was not sent: ``code`` and ``field`` as the API would name them."""

    code: str
    field: str | None
    detail: str


def row_claim(row: Sequence[str], columns: Columns) -> Claim | RowProblem:
    """The claim of one CSV row; empty cells are not provided."""
    claim: dict[str, str] = {}
    for field, i in columns.index.items():
        cell = row[i] if i < len(row) else ""
        if not cell.strip():
            continue
        try:
            claim[field] = PARSERS.get(field, _text)(cell)
        except CellError as e:
            return RowProblem(e.code, field, f"{field}: expected {e.expected}")
    if "id_number" not in claim and "qr" not in claim:
        return RowProblem("missing_field", "id_number", "id_number is empty")
    return cast(Claim, claim)
