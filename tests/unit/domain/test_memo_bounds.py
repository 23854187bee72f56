"""The parsing memos keep only values that can be valid: an oversized name, date or
purpose is refused before any memoised call, so a client sending a different huge value
in every request cannot make a process hold them (each memo is bounded in entries, and
every entry it can hold is short)."""

from __future__ import annotations

import pytest

from verify.domain import claims, dates, name_text, names
from verify.domain.errors import ValidationError

_MEMOS = (
    names.well_formed, name_text.normalise, name_text._normalise_word, dates.iso_day,
    dates.iso_partial,
    claims._good_purpose,
)  # fmt: skip


def _calls() -> list[int]:
    """Calls each memo served (a full memo keeps its size while it takes new values)."""
    return [memo.cache_info().hits + memo.cache_info().misses for memo in _MEMOS]


def test_oversized_values_are_refused_without_reaching_a_memo() -> None:
    before = _calls()
    for i in range(50):
        huge = f"Nguyễn Văn {i} " + "A" * 100_000
        with pytest.raises(ValidationError, match="1 to 200 characters"):
            names.parse_name(huge, "full_name")
        with pytest.raises(ValidationError):
            dates.parse_date(f"2000-01-01{i}" + "0" * 100_000, "card_issue_date")
        with pytest.raises(ValidationError):
            dates.parse_partial_date(f"2000-01-01{i}" + "0" * 100_000, "date_of_birth")
        with pytest.raises(ValidationError):
            claims.parse_purpose("kyc" * 10_000 + str(i))
    assert _calls() == before


def test_an_oversized_name_with_a_control_character_is_told_so_first() -> None:
    with pytest.raises(ValidationError, match="control or format"):
        names.parse_name("An\x00" + "A" * 300, "full_name")
