"""Dates and genders as agencies' CSVs write them (properties over every date and spelling)."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from citizen_verify_client.cells import CellError, parse_date, parse_gender
from hypothesis import given
from hypothesis import strategies as st

dates = st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2200, 12, 31))


@given(dates, st.sampled_from("/-."))
def test_day_month_year_any_separator_and_padding(day: dt.date, sep: str) -> None:
    padded = f"{day.day:02d}{sep}{day.month:02d}{sep}{day.year}"
    bare = f"{day.day}{sep}{day.month}{sep}{day.year}"
    assert parse_date(padded) == parse_date(bare) == day.isoformat()


@given(dates)
def test_iso_dates_and_years_pass_through(day: dt.date) -> None:
    assert parse_date(f" {day.isoformat()} ") == day.isoformat()
    assert parse_date(str(day.year)) == str(day.year)


@given(dates)
def test_a_card_date_needs_the_day(day: dt.date) -> None:
    assert parse_date(day.strftime("%d/%m/%Y"), year_only=False) == day.isoformat()
    with pytest.raises(CellError):
        parse_date(str(day.year), year_only=False)


@given(st.text(max_size=20))
def test_anything_else_is_a_cell_error_that_never_echoes_the_value(cell: str) -> None:
    try:
        parse_date(cell)
    except CellError as e:
        assert e.code == "invalid_date"
        assert str(e) in ("DD/MM/YYYY, YYYY-MM-DD or YYYY", "a real calendar date")


@pytest.mark.parametrize("cell", ["31/02/2003", "00/01/2000", "14/13/2003", "2003-02-30", "99"])
def test_impossible_dates(cell: str) -> None:
    with pytest.raises(CellError):
        parse_date(cell)


def _spellings(word: str) -> st.SearchStrategy[str]:
    """The word in any case, with its marks composed, decomposed or dropped, padded."""
    forms = [word, unicodedata.normalize("NFD", word), "".join(
        c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn"
    )]  # fmt: skip
    cased = st.sampled_from(forms).flatmap(
        lambda w: st.lists(st.booleans(), min_size=len(w), max_size=len(w)).map(
            lambda ups: "".join(c.upper() if u else c for c, u in zip(w, ups, strict=True))
        )
    )
    return st.tuples(st.sampled_from(["", " "]), cased, st.sampled_from(["", " \t"])).map("".join)


@given(st.one_of(*(_spellings(w) for w in ("Nam", "M", "male"))))
def test_male_spellings(cell: str) -> None:
    assert parse_gender(cell) == "male"


@given(st.one_of(*(_spellings(w) for w in ("Nữ", "F", "female"))))
def test_female_spellings(cell: str) -> None:
    assert parse_gender(cell) == "female"


@given(st.text(max_size=8))
def test_other_genders_are_refused(cell: str) -> None:
    try:
        gender = parse_gender(cell)
    except CellError as e:
        assert e.code == "invalid_field" and str(e) == "M or F, Nam or Nữ, male or female"
    else:
        assert gender in ("male", "female")
