"""Rows of `verify load` files: the header checked, each row parsed or rejected with a reason.

A wrong header, bytes that are not UTF-8 or a broken CSV structure is a file-level
:class:`LoadError`. A bad row becomes a :class:`RowError` with its line number and a reason
that never repeats the row's values (they are personal data). No I/O beyond reading the file:
staging and upserting are in :mod:`verify.adapters.csvload`.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verify.domain.dates import parse_date, parse_partial_date
from verify.domain.errors import ValidationError
from verify.domain.id_number import is_valid_former, parse_id_number
from verify.domain.model import Precision
from verify.domain.name_text import has_forbidden_character
from verify.domain.names import MAX_NAME_LENGTH
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
Record = Callable[[int, list[str]], tuple[Any, ...]]  # (line, values) -> staging record
_Row = tuple[int, list[str]]  # line number, values in the order of the *_COLUMNS
Batch = list[_Row | tuple[int, str]]  # or (line number, why the row cannot be read)


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    line: int
    reason: str


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
    if has_forbidden_character(raw):  # NUL, BEL, zero-width space, bidi override...
        raise _invalid("must not contain control or format characters")
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        raise _invalid("must not be empty")
    if len(name) > MAX_NAME_LENGTH:  # as a claim's: and the lookup's covering index (025) holds it
        raise _invalid(f"must be at most {MAX_NAME_LENGTH} characters")
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


def citizen_record(line: int, values: list[str]) -> tuple[Any, ...]:
    id_number, name, (birth, year_only), gender, deceased, former, province, address = _parse(
        values, CITIZEN_COLUMNS, _CITIZEN_PARSERS
    )
    return (line, id_number, name, birth, year_only, gender, deceased, former, province, address)


def card_record(line: int, values: list[str]) -> tuple[Any, ...]:
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


def batches(path: Path, columns: tuple[str, ...]) -> Generator[Batch, None, None]:
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


def _read_rows(reader: Any, order: list[int]) -> Iterator[Batch]:
    batch: Batch = []
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


def next_records(
    source: Iterator[Batch], record: Record, name: str
) -> tuple[list[tuple[Any, ...]], list[RowError]] | None:
    """The next batch parsed (in a worker thread): staging records and bad rows."""
    batch = next(source, None)
    if batch is None:
        return None
    records: list[tuple[Any, ...]] = []
    errors: list[RowError] = []
    for line, values in batch:
        if isinstance(values, str):
            errors.append(RowError(name, line, values))
            continue
        try:
            records.append(record(line, values))
        except _BadRow as e:
            errors.append(RowError(name, line, str(e)))
    return records, errors
