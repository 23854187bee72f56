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
    kind: str  # verify | batch_item | stream | lookup | history
    purpose: str | None
    subject: bytes
    verdict: str | None = None
    fields: tuple[str, ...] | None = None
    latency_ms: float | None = None
    key_id: str | None = None  # the API key that asked


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


def subject_of(hmac_key: bytes, id_number: str) -> bytes:
    return hmac.new(hmac_key, id_number.encode("ascii"), hashlib.sha256).digest()
