"""Builders that skip the frozen __init__ make the instances __init__ makes, frozen."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.domain.build import slot_setters
from verify.domain.claims import _plain_claim
from verify.domain.model import (
    CardCheck,
    CardResult,
    Claim,
    FieldOutcome,
    FieldResult,
    Gender,
    Outcome,
    PartialDate,
    Precision,
    Rule,
    Verdict,
)
from verify.domain.verdict import _outcome

text = st.none() | st.text(max_size=20)
births = st.none() | st.builds(PartialDate, st.dates(), st.sampled_from(list(Precision)))
results = st.builds(
    FieldResult, st.sampled_from(list(FieldOutcome)), st.none() | st.sampled_from(list(Rule))
)


@given(
    st.text(max_size=12), text, births, st.none() | st.sampled_from(list(Gender)),
    st.none() | st.dates(), text,
)  # fmt: skip
def test_a_plain_claim_is_the_one_init_makes(
    id_number: str,
    name: str | None,
    birth: PartialDate | None,
    gender: Gender | None,
    card: dt.date | None,
    purpose: str | None,
) -> None:
    made = _plain_claim(id_number, name, birth, gender, card, purpose)
    expected = Claim(id_number, name, birth, gender, card, purpose)
    assert (made, hash(made), repr(made)) == (expected, hash(expected), repr(expected))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.purpose = "other"  # type: ignore[misc]


@given(
    st.sampled_from(list(Verdict)), results, results, results,
    st.builds(CardCheck, st.sampled_from(list(CardResult))), st.none() | results,
    st.lists(st.text(max_size=8), max_size=3).map(tuple),
)  # fmt: skip
def test_an_outcome_is_the_one_init_makes(
    verdict: Verdict,
    name: FieldResult,
    birth: FieldResult,
    gender: FieldResult,
    card: CardCheck,
    booking: FieldResult | None,
    reasons: tuple[str, ...],
) -> None:
    made = _outcome(verdict, name, birth, gender, card, booking, reasons)
    expected = Outcome(verdict, name, birth, gender, card, booking, reasons)
    assert (made, hash(made), repr(made)) == (expected, hash(expected), repr(expected))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.reasons = ()  # type: ignore[misc]


def test_a_builder_must_set_every_field_of_its_class() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Grown:
        result: FieldOutcome
        rule: Rule | None
        note: str

    assert len(slot_setters(FieldResult, ("result", "rule"))) == 2
    with pytest.raises(TypeError, match="Grown"):
        slot_setters(Grown, ("result", "rule"))
    with pytest.raises(TypeError):
        slot_setters(FieldResult, ("rule", "result"))  # the order is the fields'
