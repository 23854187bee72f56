"""The name table (tests/name_cases.py) through the matcher: every normalisation and every
rule, for spellings of the same person and for other people."""

from __future__ import annotations

import pytest

from tests.name_cases import NAME_CASES, OTHER_PERSON, SAME_PERSON, NameCase
from verify.domain.model import FieldOutcome, Rule
from verify.domain.names import match_name

NAME_RULES = {Rule.EXACT, Rule.ASCII_FOLDED, Rule.AIRLINE, Rule.MARKS_DIFFER, Rule.REORDERED,
              Rule.FUZZY}  # fmt: skip


@pytest.mark.parametrize("case", NAME_CASES, ids=lambda c: f"{c.category}:{c.claim}")
def test_name_case(case: NameCase) -> None:
    result = match_name(case.claim, case.register)
    assert (result.result.value, result.rule.value if result.rule else None) == (
        case.result,
        case.rule,
    )


def test_the_table_covers_every_rule_and_normalisation() -> None:
    rules = {Rule(case.rule) for case in NAME_CASES if case.rule}
    assert rules == NAME_RULES
    assert {c.category for c in SAME_PERSON} >= {
        "tone_placement", "nfd", "case_spaces", "unaccented", "look_alike", "airline",
        "apostrophe", "hyphen", "ethnic", "reordered", "middle_slip",
    }  # fmt: skip
    assert {c.category for c in OTHER_PERSON} >= {"given_differs", "family_differs", "marks_only"}


def test_other_people_are_never_matched_unless_only_unaccented_marks_differ() -> None:
    for case in OTHER_PERSON:
        result = match_name(case.claim, case.register)
        if result.result is FieldOutcome.MATCH:
            assert result.rule is Rule.ASCII_FOLDED, case
        if result.result is FieldOutcome.PARTIAL:
            assert result.rule is Rule.MARKS_DIFFER, case


def test_the_table_swapped_keeps_same_person_matches() -> None:
    """A same-person spelling also matches when the register holds it (both ways)."""
    for case in SAME_PERSON:
        if case.result == "match" and case.rule == "exact":
            assert match_name(case.register, case.claim).result is FieldOutcome.MATCH, case
