"""Cells of an agency's CSV read as claim values: dates and genders as agencies write them.

Errors name what was expected, never the value (it is personal data).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_YEAR = re.compile(r"\d{4}")
_GENDERS = {"m": "male", "male": "male", "nam": "male", "f": "female", "female": "female"}
_GENDERS |= {"nu": "female"}


class CellError(ValueError):
    """A cell that cannot be read: ``code`` as the API names it, ``expected`` for people."""

    def __init__(self, code: str, expected: str) -> None:
        super().__init__(expected)
        self.code = code
        self.expected = expected


def _date(year: str, month: str, day: str) -> str:
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        raise CellError("invalid_date", "a real calendar date") from None


def parse_date(cell: str, *, year_only: bool = True) -> str:
    """``DD/MM/YYYY`` (also ``-`` or ``.``, one-digit day or month), ``YYYY-MM-DD`` or,
    when ``year_only``, ``YYYY``: as the API's ``YYYY-MM-DD`` or ``YYYY``."""
    text = cell.strip()
    if m := _ISO.fullmatch(text):
        return _date(m[1], m[2], m[3])
    if m := _DMY.fullmatch(text):
        return _date(m[3], m[2], m[1])
    if year_only and _YEAR.fullmatch(text) and 1800 <= int(text) <= 2200:
        return text
    shapes = "DD/MM/YYYY, YYYY-MM-DD" + (" or YYYY" if year_only else "")
    raise CellError("invalid_date", shapes)


def fold(text: str) -> str:
    """Case-folded, marks dropped, đ → d: how a scanner or an old system may type it."""
    decomposed = unicodedata.normalize("NFD", text.strip().casefold())
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return bare.replace("đ", "d")


def parse_gender(cell: str) -> str:
    """``M``/``F``, ``Nam``/``Nữ`` (any case, with or without marks), ``male``/``female``."""
    gender = _GENDERS.get(fold(cell))
    if gender is None:
        raise CellError("invalid_field", "M or F, Nam or Nữ, male or female")
    return gender
