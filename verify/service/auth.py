"""API keys: the token format, scopes, and authentication with a short-lived in-process cache.

A token is ``cv_<key_id>_<secret>``; the register stores only SHA-256 of the
secret. Validated keys are cached for ``ttl_s`` seconds, which bounds how long a
revoked key keeps working on an instance.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from verify.errors import ForbiddenScope, Unauthorized
from verify.service.ports import KeyStore

SCOPES = frozenset(
    {"verify", "lookup:basic", "lookup:residence", "lookup:cards", "citizen:history"}
)
_TOKEN = re.compile(r"^cv_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    agency_id: int
    agency: str
    scopes: frozenset[str]
    rate_per_s: int | None = None
    burst: int | None = None

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ForbiddenScope(f"this API key lacks the scope {scope!r}")


@dataclass(frozen=True, slots=True)
class StoredKey:
    principal: Principal
    secret_hash: bytes
    revoked: bool


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    token: str
    secret_hash: bytes


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def mint_key() -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"cv_{key_id}_{secret}", hash_secret(secret))


def parse_scopes(raw: str) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in raw.split(",") if s.strip())
    unknown = scopes - SCOPES
    if unknown or not scopes:
        raise ValueError(f"unknown scopes {sorted(unknown)}; choose from {sorted(SCOPES)}")
    return scopes


class Authenticator:
    """Checks bearer tokens. Known keys are cached for ``ttl_s`` (which bounds how long a
    revoked key keeps working); unknown key ids are cached apart, so a flood of made-up
    tokens evicts no real key; one lookup per key id at a time (single flight); and at
    most ``max_unknown_lookups`` lookups of ids not known here run at once, so such a
    flood cannot take the database pool from the audit and the register."""

    def __init__(
        self,
        store: KeyStore,
        *,
        ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
        max_unknown_lookups: int = 4,
    ) -> None:
        self._store = store
        self._ttl = ttl_s
        self._clock = clock
        self._max = max_entries
        self._known: OrderedDict[str, tuple[float, StoredKey]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[StoredKey | None]] = {}
        self._unknown_lookups = asyncio.Semaphore(max_unknown_lookups)

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization or authorization[:7].lower() != "bearer ":
            raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
        match = _TOKEN.match(authorization[7:].strip())
        if match is None:
            raise Unauthorized("the API key is malformed")
        key_id, secret = match.groups()
        stored = await self._stored(key_id)
        if stored is None or not hmac.compare_digest(stored.secret_hash, hash_secret(secret)):
            raise Unauthorized("the API key is not valid")
        if stored.revoked:
            raise Unauthorized("the API key has been revoked")
        return stored.principal

    async def _stored(self, key_id: str) -> StoredKey | None:
        now = self._clock()
        known = self._known.get(key_id)
        if known is not None and known[0] > now:
            return known[1]
        unknown_until = self._unknown.get(key_id)
        if unknown_until is not None and unknown_until > now:
            return None
        pending = self._inflight.get(key_id)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(key_id, refresh=known is not None))
            self._inflight[key_id] = pending
            pending.add_done_callback(lambda _: self._inflight.pop(key_id, None))
        return await asyncio.shield(pending)

    async def _fetch(self, key_id: str, *, refresh: bool) -> StoredKey | None:
        if refresh:  # a key this instance knows: never queued behind unknown ids
            stored = await self._store.get_key(key_id)
        else:
            async with self._unknown_lookups:
                stored = await self._store.get_key(key_id)
        self._remember(key_id, stored)
        return stored

    def _remember(self, key_id: str, stored: StoredKey | None) -> None:
        until = self._clock() + self._ttl
        table: OrderedDict[str, Any] = self._unknown if stored is None else self._known
        table[key_id] = until if stored is None else (until, stored)
        table.move_to_end(key_id)
        if len(table) > self._max:
            table.popitem(last=False)
        if stored is not None:
            self._unknown.pop(key_id, None)
