"""Vietnamese personal names: normalisation, ASCII folding and matching.

Names are compared in up to four ways, first hit wins (DESIGN.md, "Matching rules"):

1. equal after :func:`normalise` -> ``match/exact``;
2. equal after :func:`fold` -> ``match/ascii_folded`` when every word of the claim
   is either written exactly as the register's word or written without any
   diacritics (a partly unaccented "Nguyen Văn An" is a keyboard habit, not another
   name); ``partial/ascii_folded`` when some word carries diacritics that differ
   (Hà and Hạ are different names);
3. the same folded words in another order, or airline style ``FAMILY/MIDDLE GIVEN``
   -> ``partial/reordered``. An airline-style claim is partial even when it gives
   the words in the register's order ("NGUYEN/VAN AN" for "Nguyễn Văn An"): the
   slash form is a transcription, not the name as written;
4. otherwise a similarity score of the folded forms: ``partial/fuzzy`` from
   :data:`FUZZY_THRESHOLD`, else ``no_match``.

The similarity is the better of ``rapidfuzz.fuzz.ratio`` (Indel similarity, which
forgives a merged or split word: "VANAN") and ``fuzz.token_sort_ratio`` (the same
after sorting the words, which forgives a reordered name with a typo), on the folded
forms; the threshold is 90. ``score`` is 100 exactly when the result is ``match``;
a partial result scores at most 99: for ``ascii_folded`` the similarity of the
normalised forms (how far the diacritics differ), otherwise that of the folded forms.
"""

from __future__ import annotations

import unicodedata

from rapidfuzz import fuzz

from verify.domain.errors import ValidationError
from verify.domain.model import FieldOutcome, FieldResult, Rule

FUZZY_THRESHOLD = 90
MAX_NAME_LENGTH = 200
AIRLINE_SEPARATOR = "/"
_LETTER_D = str.maketrans({"đ": "d"})


def normalise(name: str) -> str:
    """Unicode NFC, trimmed, inner whitespace collapsed to one space, case-folded."""
    collapsed = " ".join(unicodedata.normalize("NFC", name).split())
    return unicodedata.normalize("NFC", collapsed.casefold())


def fold(name: str) -> str:
    """:func:`normalise`, then combining marks dropped and đ -> d ("Đặng Hà" -> "dang ha")."""
    decomposed = unicodedata.normalize("NFD", normalise(name))
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return normalise(bare.translate(_LETTER_D))


def has_diacritics(name: str) -> bool:
    """Whether folding changes the name (it carries a mark or a đ)."""
    return fold(name) != normalise(name)


def _score(value: float) -> int:
    return int(value + 0.5)


def similarity(claim: str, register: str) -> int:
    """0-100: the better of the plain and the word-sorted Indel similarity."""
    return _score(max(fuzz.ratio(claim, register), fuzz.token_sort_ratio(claim, register)))


def _partial(rule: Rule, similarity: float) -> FieldResult:
    return FieldResult(FieldOutcome.PARTIAL, rule, min(_score(similarity), 99))


def _marks_agree(claim: str, register: str) -> bool:
    """Every claim word is the register's word, or that word folded (written bare)."""
    claim_words, register_words = claim.split(), register.split()
    return len(claim_words) == len(register_words) and all(
        c == r or (c == fold(c) and c == fold(r))
        for c, r in zip(claim_words, register_words, strict=True)
    )


def _folded_claim(claim: str) -> tuple[str, bool]:
    """The folded claim with an airline separator read as a space, and whether it had one."""
    family, separator, rest = claim.partition(AIRLINE_SEPARATOR)
    return fold(f"{family} {rest}" if separator else claim), bool(separator)


def match_name(claim: str, register: str) -> FieldResult:
    """Compare a claimed name with the register's; see the module docstring for the rules."""
    claim_n, register_n = normalise(claim), normalise(register)
    if claim_n == register_n:
        return FieldResult(FieldOutcome.MATCH, Rule.EXACT, 100)
    claim_f, airline = _folded_claim(claim_n)
    register_f = fold(register_n)
    if claim_f == register_f and not airline:
        if _marks_agree(claim_n, register_n):
            return FieldResult(FieldOutcome.MATCH, Rule.ASCII_FOLDED, 100)
        return _partial(Rule.ASCII_FOLDED, fuzz.ratio(claim_n, register_n))
    if sorted(claim_f.split()) == sorted(register_f.split()):
        return _partial(Rule.REORDERED, similarity(claim_f, register_f))
    score = similarity(claim_f, register_f)
    if score >= FUZZY_THRESHOLD:
        return _partial(Rule.FUZZY, score)
    return FieldResult(FieldOutcome.NO_MATCH, None, score)


def parse_name(raw: object, field: str, code: str = "invalid_field") -> str:
    """A claimed name: at most 200 characters, not all spaces, else ``code``.

    Returned in NFC with its whitespace collapsed (case kept; matching normalises).
    """
    # the length is the caller's own (as the OpenAPI maxLength counts it), not the
    # case-folded form's, which may be longer ("ß" folds to "ss")
    if not isinstance(raw, str) or len(raw) > MAX_NAME_LENGTH or not normalise(raw):
        raise ValidationError(
            code, f"{field} must be a name of 1 to {MAX_NAME_LENGTH} characters", field
        )
    return " ".join(unicodedata.normalize("NFC", raw).split())
