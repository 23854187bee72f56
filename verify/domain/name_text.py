"""Vietnamese names as text: normalisation, skeletons, folding (DESIGN.md, "Matching rules").

:func:`normalise` makes the spellings of one name that are all in real use the same
string: Unicode NFC, case-folded, runs of whitespace made one space, look-alike letters
mapped (``Ð`` U+00D0 and ``ð`` U+00F0, common in converted legacy data, are ``đ``),
apostrophe variants made ``'`` and hyphen variants ``-``, and the tone mark of the open
syllables *oa, oe, uy* put in one canonical place (see :mod:`verify.domain.name_tones`).

The :func:`skeleton` of a name is its letters alone: no spaces, hyphens, apostrophes or
anything else, so ``Y-Jút Niê`` and ``Y Jút Niê`` are one skeleton. :func:`fold` drops the
marks (``đ`` -> ``d``). :func:`words` splits on spaces and hyphens.
"""

# ruff: noqa: RUF003  (the comments show the variants the code maps)
from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final

from verify.domain.name_tones import canonical_tones

APOSTROPHES: Final = "\u2019\u2018\u02bc\u00b4`"  # ’ ‘ ʼ ´ `
HYPHENS: Final = "\u2010\u2011\u2013\u2014"  # ‐ ‑ – —
# Ð ð Ɖ ɖ read as đ; a dotless ı (a Turkish keyboard's) as i: its capital is I, so a name
# typed in capitals must still match it
_LOOK_ALIKES: Final = {
    "\u00d0": "đ", "\u00f0": "đ", "\u0189": "đ", "\u0256": "đ", "\u0131": "i",
}  # fmt: skip
_TRANSLATE: Final = str.maketrans(
    {**_LOOK_ALIKES, **dict.fromkeys(APOSTROPHES, "'"), **dict.fromkeys(HYPHENS, "-")}
)
_VARIANT: Final = re.compile(f"[{''.join(_LOOK_ALIKES)}{APOSTROPHES}{HYPHENS}]")
_BARE_D: Final = str.maketrans({"đ": "d"})
_WORD_BREAK: Final = re.compile(r"[ \-]+")
# o-a, o-e or u-y ending a syllable (NFD, marks between and after): one whose tone may move
_OPEN_PAIR: Final = re.compile(
    "(?:o[\u0300-\u036f]*[ae]|u[\u0300-\u036f]*y)[\u0300-\u036f]*+(?![^\\W\\d_])"
)
# Unicode categories never part of a name: controls, format characters (zero-width space,
# bidi overrides, BOM), lone surrogates (not encodable as UTF-8).
FORBIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs"})


def has_forbidden_character(text: str) -> bool:
    """Whether ``text`` holds a control, format or surrogate character."""
    if text.isprintable():  # no character of category C* (nor Z* but the space): none of them
        return False
    return any(unicodedata.category(ch) in FORBIDDEN_CATEGORIES for ch in text)


@functools.lru_cache(maxsize=1 << 14)
def normalise(name: str) -> str:
    """The canonical form of a name; idempotent, total (any string).

    Memoised: a few tens of thousands of names make up most of those asked about, and the
    claim and the register each need theirs on every verify. A name missing from the memo
    is made of its words' forms, from a memo of words: a few thousand words make up
    nearly every name, where the full names of a register number in the millions."""
    if name.isascii():  # unaccented: no marks, no tone to place (the hot path's fast lane)
        return " ".join(name.lower().replace("`", "'").split())
    return " ".join([_normalise_word(word) for word in name.split()])


@functools.lru_cache(maxsize=1 << 15)
def _normalise_word(word: str) -> str:
    """:func:`normalise` of one word (no whitespace), the same as in its name.

    Every step works within a word: NFD, case folding and the variants' mapping map
    characters one by one and neither make nor take whitespace; a whitespace character is
    a starter, which canonical ordering and composition (NFC) never cross; and the tone
    of an open syllable moves within its syllable, which a space always ends. So a name's
    form is its words' forms joined by single spaces (tests/unit/domain/test_fast_path.py
    holds this against the whole-name original, tests/oracle/name_text.py)."""
    decomposed = unicodedata.normalize("NFD", word).casefold()
    if _VARIANT.search(decomposed):  # str.translate is slow: only when there is work
        decomposed = unicodedata.normalize("NFD", decomposed.translate(_TRANSLATE))
    if _OPEN_PAIR.search(decomposed):
        decomposed = canonical_tones(decomposed)
    return unicodedata.normalize("NFC", " ".join(decomposed.split()))


@functools.lru_cache(maxsize=16_384)
def _drop_word_marks(word: str) -> str:
    """One word without marks; memoised: a few thousand words make up nearly every name."""
    decomposed = unicodedata.normalize("NFD", word)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", bare.translate(_BARE_D))


def _drop_marks(text: str) -> str:
    if text.isascii():
        return text
    return " ".join([_drop_word_marks(word) for word in text.split(" ")])


def fold(name: str) -> str:
    """:func:`normalise`, then the marks dropped and đ -> d ("Đặng Hà" -> "dang ha")."""
    return normalise(_drop_marks(normalise(name)))


def has_diacritics(name: str) -> bool:
    """Whether the name carries a mark or a đ (folding changes it)."""
    return fold(name) != normalise(name)


def skeleton(normalised: str) -> str:
    """The letters of an already normalised name, in order, nothing else."""
    letters = normalised.replace(" ", "")
    if letters.isalpha():  # the common name: letters and single spaces (one C call each)
        return letters
    return "".join(ch for ch in normalised if ch.isalpha())


def words(normalised: str) -> list[str]:
    """The words of an already normalised name: split on spaces and hyphens."""
    return [word for word in _WORD_BREAK.split(normalised) if word]


def folded_skeleton(normalised: str) -> str:
    return skeleton(_drop_marks(normalised))
