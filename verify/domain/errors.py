"""The one exception the domain raises: a claim or payload that is not valid.

Messages never carry the offending value (it may be personal data); they say
what is wrong and which field.
"""

from __future__ import annotations


class ValidationError(ValueError):
    """A malformed input. ``code`` is the stable API error code, ``field`` the JSON field."""

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field

    def __repr__(self) -> str:
        return f"ValidationError(code={self.code!r}, field={self.field!r}, detail={self.detail!r})"
