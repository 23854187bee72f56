"""Every case of tests/cases.py through the domain: parse, resolve a former ID, evaluate."""

from __future__ import annotations

import pytest

from tests.cases import (
    BATCH_ITEMS,
    CASES,
    FORMER_IDS,
    INVALID_CASES,
    REGISTER,
    TODAY,
    Case,
    RegisterEntry,
)
from verify.domain.cards import card_expiry
from verify.domain.claims import parse_claim
from verify.domain.id_number import is_valid_id12, make_id12, structure
from verify.domain.model import CitizenRecord, Precision
from verify.domain.provinces import PROVINCES
from verify.domain.verdict import evaluate, outcome_to_json

RECORDS = {entry.record.id_number: entry.record for entry in REGISTER}


def lookup(id_number: str) -> CitizenRecord | None:
    """What the register port does: a 9-digit former ID resolves to the current person."""
    return RECORDS.get(FORMER_IDS.get(id_number, id_number))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_case(case: Case) -> None:
    claim = parse_claim(case.body)
    assert outcome_to_json(evaluate(claim, lookup(claim.id_number), TODAY)) == case.expected


def test_enough_cases() -> None:
    assert len(CASES) >= 45
    assert len({case.name for case in CASES}) == len(CASES)
    assert len({case.name for case in INVALID_CASES}) == len(INVALID_CASES)
    assert 15 <= len(REGISTER) <= 20


@pytest.mark.parametrize("entry", REGISTER, ids=lambda entry: entry.record.full_name)
def test_register_entry_is_consistent(entry: RegisterEntry) -> None:
    record = entry.record
    assert is_valid_id12(record.id_number)
    shape = structure(record.id_number)
    serial = int(record.id_number[6:])
    assert make_id12(shape.place_code, record.gender, record.birth.year, serial) == record.id_number
    assert entry.province_code in PROVINCES
    assert all(len(former) == 9 and former.isdigit() for former in entry.former_ids)
    birth = record.birth.value
    assert record.birth.precision is Precision.DAY or (birth.month, birth.day) == (1, 1)
    issue_dates = [card.issue_date for card in record.cards]
    assert issue_dates == sorted(set(issue_dates))  # oldest first, no two on one day
    for card in record.cards:
        assert card.expiry_date == card_expiry(record.birth.value, card.issue_date)
        assert card.issue_date <= TODAY


def test_ids_are_unique() -> None:
    ids = [entry.record.id_number for entry in REGISTER]
    formers = [former for entry in REGISTER for former in entry.former_ids]
    assert len(set(ids)) == len(ids)
    assert len(set(formers)) == len(formers) == len(FORMER_IDS)


def test_batch_items_are_known_cases() -> None:
    names = {case.name for case in CASES} | {case.name for case in INVALID_CASES}
    assert {item.name for item in BATCH_ITEMS} <= names
