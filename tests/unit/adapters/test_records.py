"""Records built without the dataclass __init__ equal those it builds, and stay frozen."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.adapters import records
from verify.adapters.pg import record_from_row
from verify.domain.model import (
    Card,
    CardState,
    CitizenRecord,
    Gender,
    LifeStatus,
    PartialDate,
    Precision,
)

dates = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))
states = st.sampled_from([s.value for s in CardState])


@st.composite
def rows(draw: st.DrawFn) -> tuple[object, ...]:
    """A row of RECORDS_SQL as asyncpg returns it (NULL card arrays: no card)."""
    n = draw(st.integers(0, 4))
    issue = draw(st.lists(dates, min_size=n, max_size=n)) if n else None
    expiry = draw(st.lists(st.none() | dates, min_size=n, max_size=n)) if n else None
    status = draw(st.lists(states, min_size=n, max_size=n)) if n else None
    return (
        draw(st.integers(0, 10**12 - 1)), draw(st.text(min_size=1, max_size=40)), draw(dates),
        draw(st.booleans()), draw(st.sampled_from([b"M", b"F"])), draw(st.booleans()),
        draw(st.integers(1, 2**31)), issue, expiry, status,
    )  # fmt: skip


def by_init(row: tuple[Any, ...]) -> CitizenRecord:
    """What the row means, built by the domain's own constructors (the reference)."""
    id_number, name, birth, year_only, gender, deceased, version, issue, expiry, status = row
    cards = tuple(
        Card(i, e, CardState(s))
        for i, e, s in zip(issue or (), expiry or (), status or (), strict=True)
    )
    return CitizenRecord(
        f"{id_number:012d}", name,
        PartialDate(birth, Precision.YEAR if year_only else Precision.DAY),
        Gender.MALE if gender == b"M" else Gender.FEMALE,
        LifeStatus.DECEASED if deceased else LifeStatus.LIVING, cards, version,
    )  # fmt: skip


@given(rows())
def test_a_row_decodes_to_the_record_init_builds(row: tuple[object, ...]) -> None:
    made = record_from_row(row)  # type: ignore[arg-type]
    expected = by_init(row)
    assert made == expected
    assert hash(made) == hash(expected)
    assert repr(made) == repr(expected)
    assert type(made) is CitizenRecord and all(type(c) is Card for c in made.cards)


def test_built_records_are_frozen() -> None:
    made = records.from_row((
        1090000001, "Nguyễn Văn An", dt.date(1990, 1, 2), False, b"M", False, 1,
        [dt.date(2020, 1, 1)], [None], ["active"],
    ))  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.full_name = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.cards[0].state = CardState.REVOKED  # type: ignore[misc]


def test_an_unknown_card_status_is_refused() -> None:
    with pytest.raises(KeyError):
        records.from_row((
            1090000001, "An", dt.date(1990, 1, 2), False, b"M", False, 1,
            [dt.date(2020, 1, 1)], [None], ["stolen"],
        ))  # fmt: skip


def test_birth_dates_are_shared_and_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    day = dt.date(1971, 3, 4)
    assert records.birth(day, False) is records.birth(day, False)
    assert records.birth(day, True) == PartialDate(day, Precision.YEAR)
    assert records.birth(day, True) != records.birth(day, False)
    monkeypatch.setattr(records, "_BIRTHS", {False: {}, True: {}})
    monkeypatch.setattr(records, "BIRTH_MEMO_MAX", 2)
    for offset in range(5):
        made = records.birth(day + dt.timedelta(days=offset), False)
        assert made == PartialDate(day + dt.timedelta(days=offset))
    assert len(records._BIRTHS[False]) == 2
