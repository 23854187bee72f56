"""Register rows into domain records, built positionally without the dataclass ``__init__``.

A frozen dataclass sets each field through ``object.__setattr__`` in a generated
``__init__``: for a batch of 1,000 people (a record, its birth date, its cards) that was
the largest single cost of reading the register in Python. Here an instance is made with
``object.__new__`` and its slots filled through their descriptors, which skips the
frozen guard (the instance is not shared until it is returned, so nothing can see it
half-built). Birth dates repeat across people (some 40,000 distinct days in a register),
so their :class:`PartialDate` values are shared frozen values from a bounded memo.

The result is an ordinary :class:`CitizenRecord`, equal to the one ``__init__`` would
build (verify/domain/build.py: a change of the domain's fields fails at import, so a new
field cannot be left unset).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from verify.domain.build import slot_setters
from verify.domain.model import (
    Card,
    CardState,
    CitizenRecord,
    Gender,
    LifeStatus,
    PartialDate,
    Precision,
)

BIRTH_MEMO_MAX = 65_536  # per precision: every day of ~180 years, ~6 MB at most
_CARD_FIELDS = ("issue_date", "expiry_date", "state")
_RECORD_FIELDS = ("id_number", "full_name", "birth", "gender", "status", "cards", "version")

_new = object.__new__
_set_issue, _set_expiry, _set_state = slot_setters(Card, _CARD_FIELDS)
(
    _set_id, _set_name, _set_birth, _set_gender, _set_status, _set_cards, _set_version
) = slot_setters(CitizenRecord, _RECORD_FIELDS)  # fmt: skip
_STATE = {state.value: state for state in CardState}
_MALE, _FEMALE = Gender.MALE, Gender.FEMALE
_LIVING, _DECEASED = LifeStatus.LIVING, LifeStatus.DECEASED
_BIRTHS: dict[bool, dict[dt.date, PartialDate]] = {False: {}, True: {}}  # by year_only


def birth(value: dt.date, year_only: bool) -> PartialDate:
    """A shared PartialDate (frozen: sharing is safe); the memo stops growing when full."""
    memo = _BIRTHS[year_only]
    found = memo.get(value)
    if found is None:
        found = PartialDate(value, Precision.YEAR if year_only else Precision.DAY)
        if len(memo) < BIRTH_MEMO_MAX:
            memo[value] = found
    return found


def from_row(row: Iterable[Any]) -> CitizenRecord:
    """The record of a register row: id_number (bigint), full_name, birth_date,
    birth_year_only, gender (``b"M"``/``b"F"``), deceased, version, then the cards' parallel
    arrays (pg.RECORDS_SQL's columns, in order). :func:`record`, :func:`birth` and
    :func:`card` inlined: this runs for every person a batch reads from the register."""
    id_number, name, born, year_only, gender, deceased, version, issue, expiry, status = row
    made = _new(CitizenRecord)
    _set_id(made, f"{id_number:012d}")
    _set_name(made, name)
    _set_birth(made, _BIRTHS[year_only].get(born) or birth(born, year_only))
    _set_gender(made, _MALE if gender == b"M" else _FEMALE)
    _set_status(made, _DECEASED if deceased else _LIVING)
    if issue is None:
        _set_cards(made, ())
    elif len(issue) == 1:  # most people hold one card: no loop, list or zip
        [one_issue], [one_expiry], [one_status] = issue, expiry, status
        one = _new(Card)
        _set_issue(one, one_issue)
        _set_expiry(one, one_expiry)
        _set_state(one, _STATE[one_status])
        _set_cards(made, (one,))
    else:
        held = []
        for i, e, s in zip(issue, expiry, status, strict=True):
            one = _new(Card)
            _set_issue(one, i)
            _set_expiry(one, e)
            _set_state(one, _STATE[s])
            held.append(one)
        _set_cards(made, tuple(held))
    _set_version(made, version)
    return made
