"""`verify load` rows: a name with a control or format character is a bad row, reported
by line and reason, never by value."""

from __future__ import annotations

import pytest

from verify.adapters.csv_rows import _BadRow, citizen_record
from verify.domain.id_number import make_id12
from verify.domain.model import Gender

ID = make_id12("001", Gender.MALE, 1990, 123)


def _row(name: str) -> list[str]:
    return [ID, name, "1990-05-14", "male", "living", "", "001", "Hà Nội"]


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\u200b", "\u202e", "\u2066", "\ufeff", "\t"])
def test_a_name_with_a_control_or_format_character_is_a_bad_row(bad: str) -> None:
    with pytest.raises(_BadRow) as caught:
        citizen_record(7, _row(f"Nguyễn{bad}Văn An"))
    assert str(caught.value) == "full_name: must not contain control or format characters"


def test_a_good_name_is_kept_in_nfc() -> None:
    record = citizen_record(2, _row("  Nguye\u0302\u0303n   Văn An "))
    assert record[2] == "Nguyễn Văn An"


def test_a_name_longer_than_a_claim_may_be_is_a_bad_row() -> None:
    """A register name holds at most what a claim may (200 characters, after spaces are
    folded): longer, it could never match, and the lookup's covering index (migration 025,
    a B-tree entry of at most 2,704 bytes) could not hold its row."""
    longest = "Nguyễn " + "A" * 193
    assert citizen_record(2, _row(longest))[2] == longest
    assert citizen_record(2, _row(" " + longest.replace(" ", "   ") + " "))[2] == longest
    with pytest.raises(_BadRow) as caught:
        citizen_record(7, _row(longest + "A"))
    assert str(caught.value) == "full_name: must be at most 200 characters"
