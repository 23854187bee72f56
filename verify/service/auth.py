"""API keys: the token format, scopes, and authentication with a short-lived in-process cache.

A token is ``cv_<key_id>_<secret>``; the register stores only SHA-256 of the
secret. Validated keys are cached for ``ttl_s`` seconds, which bounds how long a
revoked key keeps working on an instance.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from verify.errors import ForbiddenScope, Unauthorized

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


class KeyStore(Protocol):
    async def get_key(self, key_id: str) -> StoredKey | None: ...


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
    def __init__(
        self,
        store: KeyStore,
        *,
        ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, StoredKey | None]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.startswith("Bearer "):
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
        cached = self._cache.get(key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        stored = await self._store.get_key(key_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_id] = (now + self._ttl, stored)
        return stored
