"""Audit entries: one per answer (verify, batch item, stream line, lookup).

The subject is an HMAC of the person's 12-digit ID (or of the number asked
for, when nobody has it), never the number itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: dt.datetime
    agency_id: int
    request_id: str
    kind: str  # verify | batch_item | stream | lookup
    purpose: str | None
    subject: bytes
    verdict: str | None = None
    fields: tuple[str, ...] | None = None
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class RequestContext:
    agency_id: int
    request_id: str
    kind: str
    started: dt.datetime


def subject_of(hmac_key: bytes, id_number: str) -> bytes:
    return hmac.new(hmac_key, id_number.encode("ascii"), hashlib.sha256).digest()
