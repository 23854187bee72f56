"""Audit entries: one per answer (verify, batch item, stream line, lookup).

The subject is an HMAC of the person's 12-digit ID (or of the number asked
for, when nobody has it), never the number itself.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import NamedTuple

from verify.service.keyed_hash import HmacSha256


class AuditEntry(NamedTuple):
    """One audit row. A named tuple, not a frozen dataclass: a batch makes one per item, and
    a tuple is built in one C call where a frozen dataclass sets each field through
    ``object.__setattr__`` (immutable all the same)."""

    at: dt.datetime
    agency_id: int
    request_id: str
    kind: str  # verify | batch_item | stream | lookup | history
    purpose: str | None
    subject: bytes
    verdict: str | None = None
    fields: tuple[str, ...] | None = None
    latency_ms: float | None = None
    key_id: str | None = None  # the API key that asked
    terminal: str | None = None  # the counter or kiosk that made the check (claim field)


@dataclass(frozen=True, slots=True)
class RequestContext:
    agency_id: int
    request_id: str
    kind: str
    started: dt.datetime
    key_id: str | None = None
    # what an answer is recorded under when its claim names no purpose: the batch's or
    # stream's own, else the key's first (verify.service.auth.Principal.default_purpose)
    purpose: str = "unspecified"
    purposes: tuple[str, ...] = ()  # the key's allowed purposes (empty: any)


@functools.lru_cache(maxsize=8)
def _keyed(hmac_key: bytes) -> HmacSha256:
    return HmacSha256(hmac_key)  # the key's pads absorbed once, not per person


@functools.lru_cache(maxsize=1 << 16)
def subject_of(hmac_key: bytes, id_number: str) -> bytes:
    """HMAC-SHA256 of the ID under ``hmac_key``: memoised per (key, person), so a person asked
    about again (a hot set, a batch repeating a person) costs a dict hit, not an HMAC. A new
    person costs ~1.7 us (verify/service/keyed_hash.py) instead of the ~4 us of OpenSSL's
    one-shot ``hmac.digest``, which sets the key up again on every call: the same bytes."""
    return _keyed(hmac_key).digest(id_number.encode("ascii"))
