"""The load test's airport claims are what the counter page sends, and its booking names
are ones the matcher accepts (else the scenario would measure refusals, not counters)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from loadtest.people import Person, airport_claim, booking_name, terminal_name
from verify.domain.claims import parse_claim
from verify.domain.model import FieldOutcome
from verify.domain.names import match_name

NAMES = ("Nguyễn Văn An", "Đỗ Thị Ngọc Ánh", "Trương Văn Nam", "Huỳnh Thị Kim Phương", "Lê Hà")


def _person(name: str, gender: str = "male") -> Person:
    return Person("001203012345", name, "2003-05-14", False, gender, "Hà Nội", "2021-07-01")


def test_booking_name_is_airline_style() -> None:
    assert booking_name(_person("Nguyễn Văn An")) == "NGUYEN/VAN AN MR"
    assert booking_name(_person("Đỗ Thị Ngọc Ánh", "female")) == "DO/THI NGOC ANH MS"


@given(st.sampled_from(NAMES), st.sampled_from(("male", "female")))
def test_the_matcher_accepts_the_booking_of_the_card_holder(name: str, gender: str) -> None:
    result = match_name(booking_name(_person(name, gender)), name)
    assert result.result is FieldOutcome.MATCH


@given(st.integers(0, 2**32))
def test_airport_claims_parse_as_the_counter_page_sends_them(seed: int) -> None:
    rng = random.Random(seed)
    terminal = terminal_name(rng)
    claim = parse_claim(airport_claim(_person("Nguyễn Văn An"), rng, terminal))
    assert claim.terminal == terminal and claim.require_card
    assert claim.purpose == "airport_checkin" and claim.card_issue_date is not None
