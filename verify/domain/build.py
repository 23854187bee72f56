"""Frozen slotted dataclasses filled by position, without their generated ``__init__``.

A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__`` (the
frozen guard forbids plain assignment): 1.5-2 us for a Claim or an Outcome, made once per
item of every batch and job line. A builder here makes the instance with
``object.__new__`` and fills its slots through their descriptors, half that cost. The
instance is not shared until the builder returns it, so nothing sees it half made; it is
an ordinary instance, equal to (and hashing as) the one ``__init__`` would make.

A builder must set every field: :func:`slot_setters` refuses a class whose fields are not
exactly the names given, so a field added to the model fails at import, not at run time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

Setter = Callable[[Any, Any], None]


def slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Setter, ...]:
    """The ``__set__`` of each slot of ``cls``, in the order of ``names``: its fields, all."""
    fields = tuple(f.name for f in dataclasses.fields(cls))
    if fields != names or getattr(cls, "__slots__", None) != names:
        raise TypeError(f"{cls.__name__} has fields {fields}, its builder sets {names}")
    return tuple(getattr(cls, name).__set__ for name in names)
