"""Airline (IATA) style names: ``FAMILY/GIVEN NAMES [TITLE]``, as in a booking.

``NGUYEN/VAN AN MR`` and ``NGUYEN/VANAN MR`` (given names run together, which many
reservation systems do) are both Nguyễn Văn An. The part before ``/`` must be the
register's family name (its first word, or its first words for a family name such as
``Rơ Châm``); the part after it, once a trailing title is dropped, the rest of the name
in order. Compared folded (marks dropped) and letters only, since bookings are written
in unaccented capitals without spaces or apostrophes that matter.
"""

from __future__ import annotations

from typing import Final

from verify.domain.name_text import folded_skeleton, words

SEPARATOR: Final = "/"
TITLES: Final = ("mr", "mrs", "ms", "miss", "mstr", "dr")


def _without_title(rest: str) -> tuple[str, ...]:
    """The folded skeleton of the given names, with and without a trailing title
    (written as a word, or run together with the names)."""
    letters = folded_skeleton(rest)
    return (letters, *(letters.removesuffix(t) for t in TITLES if letters.endswith(t)))


def airline_match(claim: str, register: str) -> bool:
    """Whether the normalised ``claim`` is the normalised ``register`` name in airline style."""
    family, separator, rest = claim.partition(SEPARATOR)
    if not separator or SEPARATOR in rest:
        return False
    family_s = folded_skeleton(family)
    register_w = [folded_skeleton(w) for w in words(register)]
    for split in range(1, len(register_w)):
        if family_s == "".join(register_w[:split]):
            others = "".join(register_w[split:])
            return bool(others) and others in _without_title(rest)
    return False
