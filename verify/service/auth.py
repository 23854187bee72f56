"""API keys: the token format, scopes, and authentication with a short-lived in-process cache.

A token is ``cv_<key_id>_<secret>``; the register stores only SHA-256 of the
secret. Validated keys are cached for ``ttl_s`` seconds, which bounds how long a
revoked key keeps working on an instance.

A key names the purposes it may be used for (``purposes``, in the order given): a claim
or lookup stating another purpose is refused (403 ``purpose_not_allowed``); one stating
none is recorded under the key's first purpose, or ``unspecified`` for a key without a
list, never under NULL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verify.errors import ForbiddenScope, PurposeNotAllowed, Unauthorized
from verify.service.ports import KeyStore

SCOPES = frozenset(
    {"verify", "lookup:basic", "lookup:residence", "lookup:cards", "citizen:history"}
)
_TOKEN = re.compile(r"^cv_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
# "Bearer " and a token (cv_, 16 hex, _, 43 base64url): the one form a token is remembered in
CANONICAL_HEADER_LENGTH = len("Bearer cv_") + 16 + 1 + 43
_KEY_PURPOSE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
UNSPECIFIED = "unspecified"  # what an answer is recorded under when nothing names a purpose


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    agency_id: int
    agency: str
    scopes: frozenset[str]
    rate_per_s: int | None = None
    burst: int | None = None
    purposes: tuple[str, ...] = ()  # empty: any purpose
    # the agency as a metric label, made once per key rather than once per request
    agency_label: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "agency_label", str(self.agency_id))

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ForbiddenScope(f"this API key lacks the scope {scope!r}")

    @property
    def default_purpose(self) -> str:
        """What a claim without a purpose is recorded under."""
        return self.purposes[0] if self.purposes else UNSPECIFIED

    def check_purpose(self, purpose: str | None) -> None:
        if not purpose_allowed(self.purposes, purpose):
            raise PurposeNotAllowed("this API key may not be used for this purpose")


def purpose_allowed(allowed: tuple[str, ...], purpose: str | None) -> bool:
    """A stated purpose must be one of the key's, when the key has a list."""
    return purpose is None or not allowed or purpose in allowed


@dataclass(frozen=True, slots=True)
class StoredKey:
    principal: Principal
    secret_hash: bytes
    revoked: bool
    expires_at: dt.datetime | None = None


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


def parse_purposes(raw: str) -> tuple[str, ...]:
    """``airport_checkin,boarding`` as a tuple in that order (the first is the default)."""
    purposes = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    bad = [p for p in purposes if not _KEY_PURPOSE.match(p)]
    if bad or not purposes:
        raise ValueError(
            "purposes are lowercase identifiers (a-z, 0-9, _; starting with a letter), "
            f"comma-separated; not {bad[0][:64]!r}"
            if bad
            else "give at least one purpose"
        )
    return purposes


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
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        max_entries: int = 10_000,
        max_unknown_lookups: int = 4,
    ) -> None:
        self._store = store
        self._ttl = ttl_s
        self._clock = clock
        self._wall = wall
        self._max = max_entries
        self._known: OrderedDict[str, tuple[float, StoredKey]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[StoredKey | None]] = {}
        self._unknown_lookups = asyncio.Semaphore(max_unknown_lookups)
        # Authorization header -> (until, key) of a token whose secret matched: it is
        # accepted again without parsing or hashing until the key's cache entry it was
        # checked against expires (the same ``ttl_s`` bound on revocation as before);
        # a key revoked meanwhile is seen when that entry expires, as with the key cache;
        # the key's expiry time is checked on every use. Only valid tokens get here, so
        # made-up ones cannot fill it, and only in their one canonical form ("Bearer "
        # and the token, nothing around it): a key written with other spacing or case is
        # accepted too but checked each time, so one key cannot fill it with variants.
        self._verified: dict[str, tuple[float, StoredKey]] = {}

    def cached(self, authorization: str | None) -> Principal | None:
        """The principal of a token verified recently, without an await; None: not known
        here (or no longer valid): ask ``authenticate``, which also gives the reason."""
        if not authorization:
            return None
        entry = self._verified.get(authorization)
        if entry is None:
            return None
        until, stored = entry
        if (
            until <= self._clock()
            or stored.revoked
            or (stored.expires_at is not None and self._wall() >= stored.expires_at)
        ):
            # no longer valid: forgotten (the secret no longer kept in memory for it)
            self._verified.pop(authorization, None)
            return None
        return stored.principal

    async def authenticate(self, authorization: str | None) -> Principal:
        who = self.cached(authorization)
        if who is not None:
            return who
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
        if stored.expires_at is not None and self._wall() >= stored.expires_at:
            raise Unauthorized("the API key has expired")
        self._verified_now(authorization, key_id, stored)
        return stored.principal

    def _verified_now(self, authorization: str, key_id: str, stored: StoredKey) -> None:
        if len(authorization) != CANONICAL_HEADER_LENGTH or not authorization.startswith(
            "Bearer "
        ):  # a variant of the canonical form (spacing, case): checked each time
            return
        known = self._known.get(key_id)
        if known is None or known[1] is not stored:  # superseded meanwhile: check next time
            return
        verified = self._verified
        verified.pop(authorization, None)  # re-inserted last: the oldest go first
        verified[authorization] = (known[0], stored)
        if len(verified) > self._max:
            del verified[next(iter(verified))]
        # the oldest entries whose key entry has expired go too, a few per insert: a token
        # not presented again does not keep its secret in memory for long
        now = self._clock()
        for _ in range(2):
            if not verified:
                break
            oldest = next(iter(verified))
            if verified[oldest][0] > now:
                break
            del verified[oldest]

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
            pending.add_done_callback(lambda done: self._settled(key_id, done))
        return await asyncio.shield(pending)

    def _settled(self, key_id: str, done: asyncio.Future[StoredKey | None]) -> None:
        """A shared key lookup ended: forget it, and observe its error, which no caller
        may be left to see (the callers that were waiting may all have timed out)."""
        self._inflight.pop(key_id, None)
        if not done.cancelled():
            done.exception()

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
