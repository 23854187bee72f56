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

import re
import unicodedata

from verify.domain.name_tones import canonical_tones

APOSTROPHES = "\u2019\u2018\u02bc\u00b4`"  # ’ ‘ ʼ ´ `
HYPHENS = "\u2010\u2011\u2013\u2014"  # ‐ ‑ – —
_LOOK_ALIKES = {"\u00d0": "đ", "\u00f0": "đ", "\u0189": "đ", "\u0256": "đ"}  # Ð ð Ɖ ɖ
_TRANSLATE = str.maketrans(
    {**_LOOK_ALIKES, **dict.fromkeys(APOSTROPHES, "'"), **dict.fromkeys(HYPHENS, "-")}
)
_BARE_D = str.maketrans({"đ": "d"})
_WORD_BREAK = re.compile(r"[ \-]+")
# Unicode categories never part of a name: controls, format characters (zero-width space,
# bidi overrides, BOM), lone surrogates (not encodable as UTF-8).
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def has_forbidden_character(text: str) -> bool:
    """Whether ``text`` holds a control, format or surrogate character."""
    return any(unicodedata.category(ch) in FORBIDDEN_CATEGORIES for ch in text)


def normalise(name: str) -> str:
    """The canonical form of a name; idempotent, total (any string)."""
    decomposed = unicodedata.normalize("NFD", name).casefold()
    decomposed = unicodedata.normalize("NFD", decomposed.translate(_TRANSLATE))
    collapsed = " ".join(canonical_tones(decomposed).split())
    return unicodedata.normalize("NFC", collapsed)


def _drop_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", bare.translate(_BARE_D))


def fold(name: str) -> str:
    """:func:`normalise`, then the marks dropped and đ -> d ("Đặng Hà" -> "dang ha")."""
    return normalise(_drop_marks(normalise(name)))


def has_diacritics(name: str) -> bool:
    """Whether the name carries a mark or a đ (folding changes it)."""
    return fold(name) != normalise(name)


def skeleton(normalised: str) -> str:
    """The letters of an already normalised name, in order, nothing else."""
    return "".join(ch for ch in normalised if ch.isalpha())


def words(normalised: str) -> list[str]:
    """The words of an already normalised name: split on spaces and hyphens."""
    return [word for word in _WORD_BREAK.split(normalised) if word]


def folded_skeleton(normalised: str) -> str:
    return skeleton(_drop_marks(normalised))
