"""One canonical place for the tone mark of the open syllables *oa, oe, uy*.

Vietnamese has two official styles for these syllables: the older puts the tone mark on
the first vowel (``hòa``, ``thủy``, ``khỏe``), the newer on the second (``hoà``, ``thuỷ``,
``khoẻ``). Registers, banks and airlines hold both for the same person, so both are read
as the older style here. Closed syllables (``hoàng``, ``toàn``, ``thuyết``) and ``uy``
after ``q`` (``quý``: the ``u`` belongs to ``qu``) have one placement only and are left
as they are, as is any syllable carrying two tone marks (not a spelling, a typo).

Works on case-folded NFD text (base letters followed by their combining marks).
"""

from __future__ import annotations

import unicodedata
from typing import Final

TONE_MARKS: Final = frozenset("\u0300\u0301\u0303\u0309\u0323")  # huyền sắc ngã hỏi nặng
_OPEN_PAIRS: Final = frozenset({("o", "a"), ("o", "e"), ("u", "y")})
_VOWELS: Final = frozenset("aeiouy")

_Cluster = list[str]  # [base letter, its combining marks]


def _clusters(text: str) -> list[_Cluster]:
    out: list[_Cluster] = []
    for ch in text:
        if out and unicodedata.combining(ch):
            out[-1][1] += ch
        else:
            out.append([ch, ""])
    return out


def _movable(syllable: list[_Cluster]) -> bool:
    """Whether the syllable ends in bare o-a, o-e or u-y with no vowel or q before them."""
    if len(syllable) < 2:
        return False
    (first, first_marks), (second, second_marks) = syllable[-2], syllable[-1]
    if (first, second) not in _OPEN_PAIRS:
        return False
    if not set(first_marks + second_marks) <= TONE_MARKS:  # ô, ơ, ư...: another vowel
        return False
    before = syllable[-3][0] if len(syllable) > 2 else ""
    return before not in _VOWELS and before != "q"


def _canonical(syllable: list[_Cluster]) -> None:
    if not _movable(syllable):
        return
    first, second = syllable[-2], syllable[-1]
    if first[1] or not second[1]:  # already canonical, no tone, or both marked
        return
    first[1], second[1] = second[1], ""


def canonical_tones(nfd: str) -> str:
    """``nfd`` with the tone of every open oa/oe/uy syllable on its first vowel."""
    clusters = _clusters(nfd)
    start = 0
    for end in range(len(clusters) + 1):
        if end == len(clusters) or not clusters[end][0].isalpha():
            _canonical(clusters[start:end])
            start = end + 1
    return "".join(base + marks for base, marks in clusters)
