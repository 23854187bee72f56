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
