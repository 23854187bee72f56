"""Properties of name matching over generated Vietnamese names (hypothesis):

- a name always matches itself, however it is written: NFD, case, spaces, tone placement,
  look-alike letters, apostrophe and hyphen variants, unaccented, airline style;
- a change to the family or the given name is never a match or a partial, except where
  only the marks differ (an unaccented system cannot tell Tuấn from Tuân).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from verify.domain.model import FieldOutcome, Rule
from verify.domain.name_text import fold, has_diacritics
from verify.domain.names import match_name

PROPERTY = settings(database=None, deadline=None, max_examples=400)

FAMILIES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Ksor",
    "Nay",
    "Siu",
    "Rơ Châm",
    "Niê Kdăm",
    "Đoàn",
]
MIDDLES = [
    "Văn",
    "Thị",
    "Hữu",
    "Đức",
    "Minh",
    "Quang",
    "Ngọc",
    "Thanh",
    "Xuân",
    "Hoàng",
    "Gia",
    "Bảo",
    "Anh",
    "Thu",
    "Kim",
    "Phương",
    "Hòa",
    "Thủy",
    "Y",
]
GIVENS = ["An", "Anh", "Bình", "Thúy", "Thủy", "Hòa", "Khỏe", "Tùy", "Xòa", "Lan", "Hà", "Hạ",
          "Dũng", "Dung", "Thư", "Thu", "Tuấn", "Quý", "Quỳnh", "Hoàng", "Ướt", "H'Bơ", "H'Hen",
          "Y-Jút", "Đông", "Nguyệt", "Khuê", "Loan", "Hoè"]  # fmt: skip
NEW_STYLE = {"Hòa": "Hoà", "Thủy": "Thuỷ", "Thúy": "Thuý", "Khỏe": "Khoẻ", "Tùy": "Tuỳ",
             "Xòa": "Xoà", "Hoè": "Hoè"}  # fmt: skip
APOSTROPHES = ["'", "\u2019", "\u2018", "\u02bc", "\u00b4", "`"]
HYPHENS = ["-", " ", "\u2010", "\u2011", "\u2013", "\u2014"]
TITLES = ["", " MR", " MRS", " MS", " MISS", " MSTR", " DR", "MR"]


@st.composite
def vietnamese_names(draw: st.DrawFn) -> list[str]:
    """Family name, up to two middle names, given name (words may hold a space)."""
    middles = draw(st.lists(st.sampled_from(MIDDLES), max_size=2))
    return [draw(st.sampled_from(FAMILIES)), *middles, draw(st.sampled_from(GIVENS))]


def _tones(name: str) -> str:
    return " ".join(NEW_STYLE.get(word, word) for word in name.split(" "))


def _airline(title: str) -> Callable[[str], str]:
    def to_airline(name: str) -> str:
        family, _, rest = fold(name).upper().partition(" ")
        if " " in family or not rest:
            return name
        return f"{family}/{rest}{title}"

    return to_airline


@st.composite
def spellings(draw: st.DrawFn) -> list[Callable[[str], str]]:
    """A list of rewritings, each keeping the person the same."""
    apostrophe, hyphen = draw(st.sampled_from(APOSTROPHES)), draw(st.sampled_from(HYPHENS))
    options: list[Callable[[str], str]] = [
        lambda n: unicodedata.normalize("NFD", n),
        str.upper,
        str.lower,
        lambda n: f"  {n.replace(' ', '   ')} ",
        _tones,
        lambda n: n.replace("Đ", "\u00d0").replace("đ", "\u00f0"),
        lambda n: n.replace("'", apostrophe),
        lambda n: n.replace("-", hyphen),
        lambda n: fold(n).upper(),
        lambda n: fold(n).replace("'", ""),
    ]
    chosen = draw(st.lists(st.sampled_from(options), max_size=4))
    if draw(st.booleans()):
        chosen.append(_airline(draw(st.sampled_from(TITLES))))
    return chosen


@PROPERTY
@given(vietnamese_names(), spellings())
def test_a_name_always_matches_itself(
    words: list[str], rewrites: list[Callable[[str], str]]
) -> None:
    register = " ".join(words)
    claim = register
    for rewrite in rewrites:
        claim = rewrite(claim)
    assert match_name(claim, register).result is FieldOutcome.MATCH, claim


@PROPERTY
@given(vietnamese_names(), st.sampled_from(FAMILIES + GIVENS), st.booleans(), st.booleans())
def test_another_family_or_given_name_is_never_match_or_partial(
    words: list[str], other: str, change_family: bool, unaccented: bool
) -> None:
    index = 0 if change_family else -1
    if fold(other) == fold(words[index]) or len(words) < 2:
        return
    register = " ".join(words)
    claim_words = list(words)
    claim_words[index] = other
    claim = " ".join(claim_words)
    claim = fold(claim).upper() if unaccented else claim
    assert match_name(claim, register).result is FieldOutcome.NO_MATCH, claim


@PROPERTY
@given(vietnamese_names(), st.sampled_from(FAMILIES + GIVENS), st.booleans())
def test_a_mark_change_in_family_or_given_name_is_at_most_marks_differ(
    words: list[str], other: str, change_family: bool
) -> None:
    index = 0 if change_family else -1
    if fold(other) != fold(words[index]) or other == words[index]:
        return
    claim_words = list(words)
    claim_words[index] = other
    claim = " ".join(claim_words)
    if not has_diacritics(claim):  # no marks left at all: a plain keyboard, ascii_folded
        return
    result = match_name(claim, " ".join(words))
    if result.result is not FieldOutcome.NO_MATCH:
        assert (result.result, result.rule) == (FieldOutcome.PARTIAL, Rule.MARKS_DIFFER)
