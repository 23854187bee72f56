from __future__ import annotations

import asyncio

import pytest

from verify.errors import Unauthorized
from verify.service.auth import Authenticator, Principal, StoredKey, mint_key


class FakeStore:
    def __init__(self) -> None:
        self.keys: dict[str, StoredKey] = {}
        self.calls: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def get_key(self, key_id: str) -> StoredKey | None:
        self.calls.append(key_id)
        await self.gate.wait()
        return self.keys.get(key_id)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _key(store: FakeStore, revoked: bool = False) -> str:
    new = mint_key()
    principal = Principal(new.key_id, 1, "bank", frozenset({"verify"}))
    store.keys[new.key_id] = StoredKey(principal, new.secret_hash, revoked)
    return new.token


async def test_scheme_is_case_insensitive_and_keys_are_cached() -> None:
    store = FakeStore()
    token = _key(store)
    auth = Authenticator(store, clock=Clock())
    for scheme in ("Bearer", "bearer", "BEARER"):
        assert (await auth.authenticate(f"{scheme} {token}")).agency == "bank"
    assert len(store.calls) == 1


async def test_concurrent_checks_of_one_key_share_one_lookup() -> None:
    store = FakeStore()
    token = _key(store)
    store.gate.clear()
    auth = Authenticator(store, clock=Clock())
    checks = [asyncio.create_task(auth.authenticate(f"Bearer {token}")) for _ in range(50)]
    await asyncio.sleep(0)
    store.gate.set()
    assert len(await asyncio.gather(*checks)) == 50
    assert len(store.calls) == 1


async def test_a_flood_of_unknown_keys_evicts_no_known_key() -> None:
    store = FakeStore()
    token = _key(store)
    auth = Authenticator(store, clock=Clock(), max_entries=10)
    await auth.authenticate(f"Bearer {token}")
    for _ in range(100):
        with pytest.raises(Unauthorized):
            await auth.authenticate(f"Bearer {mint_key().token}")
    calls = len(store.calls)
    await auth.authenticate(f"Bearer {token}")
    assert len(store.calls) == calls  # still cached


async def test_revocation_is_seen_after_the_ttl() -> None:
    store = FakeStore()
    token = _key(store)
    clock = Clock()
    auth = Authenticator(store, clock=clock, ttl_s=5)
    await auth.authenticate(f"Bearer {token}")
    key_id = token.split("_")[1]
    old = store.keys[key_id]
    store.keys[key_id] = StoredKey(old.principal, old.secret_hash, revoked=True)
    await auth.authenticate(f"Bearer {token}")  # cached: still accepted
    clock.now = 5.1
    with pytest.raises(Unauthorized, match="revoked"):
        await auth.authenticate(f"Bearer {token}")


async def test_wrong_secret_and_malformed_tokens() -> None:
    store = FakeStore()
    token = _key(store)
    auth = Authenticator(store, clock=Clock())
    with pytest.raises(Unauthorized, match="not valid"):
        await auth.authenticate(f"Bearer {token[:-1]}{'A' if token[-1] != 'A' else 'B'}")
    for header in (None, "", "Basic abc", "Bearer nope"):
        with pytest.raises(Unauthorized):
            await auth.authenticate(header)


async def test_a_key_expires_at_its_time() -> None:
    import datetime as dt

    store = FakeStore()
    new = mint_key()
    principal = Principal(new.key_id, 1, "bank", frozenset({"verify"}))
    expiry = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    store.keys[new.key_id] = StoredKey(principal, new.secret_hash, False, expiry)
    now = [expiry - dt.timedelta(microseconds=1)]
    auth = Authenticator(store, clock=Clock(), wall=lambda: now[0])
    assert (await auth.authenticate(f"Bearer {new.token}")).key_id == new.key_id
    now[0] = expiry
    with pytest.raises(Unauthorized, match="expired"):
        await auth.authenticate(f"Bearer {new.token}")


def test_purposes_bound_to_a_key() -> None:
    from verify.errors import PurposeNotAllowed
    from verify.service.auth import parse_purposes, purpose_allowed

    bound = Principal("k", 1, "airline", frozenset(), purposes=("airport_checkin", "boarding"))
    assert bound.default_purpose == "airport_checkin"
    bound.check_purpose("boarding")
    bound.check_purpose(None)
    with pytest.raises(PurposeNotAllowed):
        bound.check_purpose("marketing")
    free = Principal("k", 1, "bank", frozenset())
    assert free.default_purpose == "unspecified"
    assert purpose_allowed((), "anything") and purpose_allowed(("a",), None)
    assert parse_purposes(" boarding,airport_checkin,boarding ") == ("boarding", "airport_checkin")
    for bad in ("Marketing", "1st", "a-b", "", "x" * 65):
        with pytest.raises(ValueError):
            parse_purposes(bad)


async def test_a_verified_token_is_remembered_only_while_its_key_entry_lives() -> None:
    store = FakeStore()
    token = _key(store)
    clock = Clock()
    auth = Authenticator(store, clock=clock, ttl_s=5)
    header = f"Bearer {token}"
    assert auth.cached(header) is None  # never verified: authenticate must check it
    who = await auth.authenticate(header)
    assert auth.cached(header) is who
    assert auth.cached(f"Bearer {token[:-1]}{'A' if token[-1] != 'A' else 'B'}") is None
    key_id = token.split("_")[1]
    old = store.keys[key_id]
    store.keys[key_id] = StoredKey(old.principal, old.secret_hash, revoked=True)
    clock.now = 5.0  # the key's entry (and the token's with it) has expired
    assert auth.cached(header) is None
    with pytest.raises(Unauthorized, match="revoked"):
        await auth.authenticate(header)
    assert auth.cached(header) is None


async def test_a_remembered_token_still_expires_at_its_key_time() -> None:
    import datetime as dt

    store = FakeStore()
    new = mint_key()
    expiry = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    principal = Principal(new.key_id, 1, "bank", frozenset({"verify"}))
    store.keys[new.key_id] = StoredKey(principal, new.secret_hash, False, expiry)
    now = [expiry - dt.timedelta(seconds=1)]
    auth = Authenticator(store, clock=Clock(), wall=lambda: now[0])
    header = f"Bearer {new.token}"
    await auth.authenticate(header)
    assert auth.cached(header) is not None
    now[0] = expiry
    assert auth.cached(header) is None
    with pytest.raises(Unauthorized, match="expired"):
        await auth.authenticate(header)


async def test_remembered_tokens_are_bounded() -> None:
    store = FakeStore()
    tokens = [_key(store) for _ in range(5)]
    auth = Authenticator(store, clock=Clock(), max_entries=3)
    for token in tokens:
        await auth.authenticate(f"Bearer {token}")
    remembered = [auth.cached(f"Bearer {t}") is not None for t in tokens]
    assert remembered == [False, False, True, True, True]


async def test_only_the_canonical_header_is_remembered() -> None:
    """Spacing and case variants of one valid key are accepted but not remembered: one key
    cannot fill the memo (and keep its secret in memory) with thousands of variants."""
    store = FakeStore()
    token = _key(store)
    auth = Authenticator(store, clock=Clock())
    variants = [f"Bearer {' ' * n}{token}" for n in range(1, 200)] + [f"bearer {token}"]
    for header in variants:
        assert (await auth.authenticate(header)).agency == "bank"
        assert auth.cached(header) is None
    assert len(store.calls) == 1  # the key cache still spares the store
    assert auth._verified == {}
    await auth.authenticate(f"Bearer {token}")
    assert len(auth._verified) == 1


async def test_an_expired_memo_entry_is_forgotten() -> None:
    store = FakeStore()
    token = _key(store)
    clock = Clock()
    auth = Authenticator(store, clock=clock, ttl_s=5)
    header = f"Bearer {token}"
    await auth.authenticate(header)
    clock.now = 5.0
    assert auth.cached(header) is None
    assert header not in auth._verified


async def test_a_token_not_presented_again_is_forgotten_once_expired() -> None:
    store = FakeStore()
    first, second = _key(store), _key(store)
    clock = Clock()
    auth = Authenticator(store, clock=clock, ttl_s=5)
    await auth.authenticate(f"Bearer {first}")
    clock.now = 5.0  # the first token's key entry has expired; it is never sent again
    await auth.authenticate(f"Bearer {second}")
    assert list(auth._verified) == [f"Bearer {second}"]


async def test_the_sweep_may_empty_the_memo() -> None:
    store = FakeStore()
    token = _key(store)
    clock = Clock()
    auth = Authenticator(store, clock=clock, ttl_s=5)
    key_id = token.split("_")[1]
    stored = await store.get_key(key_id)
    assert stored is not None
    auth._known[key_id] = (0.0, stored)  # an entry already expired when verified
    auth._verified_now(f"Bearer {token}", key_id, stored)
    assert auth._verified == {}
