"""The before/after report of the name table counts what each matcher answers."""

from __future__ import annotations

from loadtest.name_table_report import report, tally
from tests.name_cases import NAME_CASES, OTHER_PERSON, SAME_PERSON


def test_a_matcher_that_always_matches_rejects_nobody() -> None:
    always = tally(lambda claim, register: "match", NAME_CASES)
    assert always.same["match"] == len(SAME_PERSON)
    assert always.other["match"] == len(OTHER_PERSON) and always.other["no_match"] == 0


def test_the_report_names_both_matchers() -> None:
    lines = report(lambda claim, register: "no_match", NAME_CASES, by_category=True)
    assert lines[1].startswith("before") and f"0/{len(SAME_PERSON)} match" in lines[1]
    assert lines[2].startswith("after")
    assert any(line.strip().startswith("airline") for line in lines[3:])
