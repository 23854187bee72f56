"""Vietnamese personal names: matching a claimed name with the register's.

The rules follow the structure of a Vietnamese name (DESIGN.md, "Matching rules"):
family name first, given name last, middle names in between. Both sides are
normalised first (:mod:`verify.domain.name_text`); then, first hit wins:

1. airline style ``FAMILY/GIVEN NAMES [TITLE]``, equal to the register's folded
   skeleton -> ``match/airline``;
2. equal skeletons -> ``match/exact``;
3. a claim with no marks at all, equal to the register's skeleton with the marks
   dropped -> ``match/ascii_folded``;
4. the same words in another order -> ``partial/reordered``;
5. otherwise the family and the given name must be equal with marks dropped, or the
   answer is ``no_match`` (``An`` and ``Anh`` are other people, never a partial).
   With both equal: a claim with marks whose words differ from the register's only
   in marks -> ``partial/marks_differ``; a middle word one letter off, missing or
   extra -> ``partial/fuzzy``; anything else -> ``no_match``.

A result carries no score: a similarity figure would let a caller rebuild a register
name one guess at a time.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Final, NoReturn

from verify.domain.errors import ValidationError
from verify.domain.model import FieldOutcome, FieldResult, Rule
from verify.domain.name_airline import airline_match
from verify.domain.name_text import (
    fold,
    folded_skeleton,
    has_diacritics,
    has_forbidden_character,
    normalise,
    skeleton,
    words,
)

MAX_NAME_LENGTH: Final = 200
NO_MATCH: Final = FieldResult(FieldOutcome.NO_MATCH)
_MATCH: Final = {rule: FieldResult(FieldOutcome.MATCH, rule) for rule in Rule}
_PARTIAL: Final = {rule: FieldResult(FieldOutcome.PARTIAL, rule) for rule in Rule}

__all__ = ["fold", "has_diacritics", "match_name", "normalise", "parse_name"]


def _one_letter_off(a: str, b: str) -> bool:
    """Levenshtein distance exactly 1 (one letter changed, dropped or added)."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _one_middle_slip(claim: list[str], register: list[str]) -> bool:
    """The middle names (folded skeletons) differ by one word one letter off, or one
    word missing or extra; every other middle word is the same."""
    if len(claim) == len(register):
        pairs = [(c, r) for c, r in zip(claim, register, strict=True) if c != r]
        return len(pairs) == 1 and _one_letter_off(*pairs[0])
    short, long = (claim, register) if len(claim) < len(register) else (register, claim)
    if len(long) - len(short) != 1:
        return False
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _structural(claim_words: list[str], register_words: list[str], marked: bool) -> FieldResult:
    """Rule 5: family and given name equal folded, then marks_differ, fuzzy or no_match."""
    claim_f = [folded_skeleton(w) for w in claim_words]
    register_f = [folded_skeleton(w) for w in register_words]
    if claim_f[0] != register_f[0] or claim_f[-1] != register_f[-1]:
        return NO_MATCH
    if marked and claim_f == register_f:
        return _PARTIAL[Rule.MARKS_DIFFER]
    if (
        len(claim_f) >= 2
        and len(register_f) >= 2
        and _one_middle_slip(claim_f[1:-1], register_f[1:-1])
    ):
        return _PARTIAL[Rule.FUZZY]
    return NO_MATCH


def _reordered(claim_words: list[str], register_words: list[str], marked: bool) -> bool:
    """Rule 4: the claim's words are the register's in another order; a claim with
    marks is compared with them, an unaccented claim with the register's folded words."""
    level = skeleton if marked else folded_skeleton
    claim_w = [skeleton(w) for w in claim_words]
    register_w = [level(w) for w in register_words]
    return claim_w != register_w and sorted(claim_w) == sorted(register_w)


def match_name(claim: str, register: str) -> FieldResult:
    """Compare a claimed name with the register's; see the module docstring for the rules."""
    claim_n, register_n = normalise(claim), normalise(register)
    if claim_n == register_n:  # the common answer, without building skeletons
        return _MATCH[Rule.EXACT] if skeleton(claim_n) else NO_MATCH
    if airline_match(claim_n, register_n):
        return _MATCH[Rule.AIRLINE]
    claim_n = claim_n.replace("/", " ")
    claim_s, register_s = skeleton(claim_n), skeleton(register_n)
    if not claim_s or not register_s:  # no letters: nothing a name could be compared on
        return NO_MATCH
    if claim_s == register_s:
        return _MATCH[Rule.EXACT]
    claim_f = folded_skeleton(claim_n)
    marked = claim_f != claim_s
    if not marked and claim_s == folded_skeleton(register_n):
        return _MATCH[Rule.ASCII_FOLDED]
    claim_w, register_w = words(claim_n), words(register_n)
    if _reordered(claim_w, register_w, marked):
        return _PARTIAL[Rule.REORDERED]
    return _structural(claim_w, register_w, marked)


@functools.lru_cache(maxsize=1 << 14)
def well_formed(raw: str) -> str | None:
    """The claimed name as :func:`parse_name` returns it, or None when it is not a name.
    Memoised: names repeat across claims (and both errors are told apart on the slow path)."""
    if has_forbidden_character(raw) or len(raw) > MAX_NAME_LENGTH:
        return None
    normalised = normalise(raw)
    if not normalised or not skeleton(normalised):
        return None
    return " ".join(unicodedata.normalize("NFC", raw).split())


def parse_name(raw: object, field: str, code: str = "invalid_field") -> str:
    """A claimed name: a string of at most 200 characters with at least one letter and no
    control or format character (NUL, BEL, zero-width space, bidi override), else
    ``code``. Returned in NFC with its whitespace collapsed (case kept; matching
    normalises)."""
    if not isinstance(raw, str):
        raise ValidationError(code, f"{field} must be a string", field)
    if len(raw) > MAX_NAME_LENGTH:  # before any memo: an oversized value is never kept
        _refuse(raw, field, code)
    name = well_formed(raw)
    if name is not None:
        return name
    _refuse(raw, field, code)


def _refuse(raw: str, field: str, code: str) -> NoReturn:
    """The error of a claimed name that is not well formed (control characters first)."""
    if has_forbidden_character(raw):
        detail = f"{field} must not contain control or format characters"
        raise ValidationError(code, detail, field)
    # the length is the caller's own (as the OpenAPI maxLength counts it), not the
    # case-folded form's, which may be longer ("ß" folds to "ss")
    raise ValidationError(
        code, f"{field} must be a name of 1 to {MAX_NAME_LENGTH} characters", field
    )
