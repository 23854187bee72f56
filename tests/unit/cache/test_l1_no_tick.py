"""An answer from L1 never waits for the event loop: the coroutine finishes on its first step.

``coroutine.send(None)`` runs a coroutine until it first suspends; StopIteration
means it finished without suspending once (no future, no tick, no task switch).
A miss must suspend (it waits for the per-tick batch), so the test can fail.
"""

from __future__ import annotations

import secrets
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from cache.codec import Codec
from cache.keyspace import KeySpace
from cache.register import CachedRegister
from tests.unit.service.fakes import TODAY, record
from verify.domain.model import CitizenRecord, Claim, Verdict
from verify.service.verification import verify_claims

T = TypeVar("T")
ANNA = "001190000001"


class NoSource:
    async def fetch_records(self, ids: list[str]) -> dict[str, CitizenRecord]:
        raise AssertionError("an L1 hit must not reach the source")

    async def resolve_former(self, former_ids: list[str]) -> dict[str, str]:
        raise AssertionError("an L1 hit must not reach the source")


def finished_without_suspending(coro: Coroutine[Any, Any, T]) -> T:
    with pytest.raises(StopIteration) as done:
        coro.send(None)
    result: T = done.value.value
    return result


class EmptySource:
    async def fetch_records(self, ids: list[str]) -> dict[str, CitizenRecord]:
        return {}

    async def resolve_former(self, former_ids: list[str]) -> dict[str, str]:
        return {}


def register_with(
    *records: CitizenRecord, source: NoSource | EmptySource | None = None
) -> CachedRegister:
    key = secrets.token_bytes(32)
    register = CachedRegister(
        source or NoSource(), keyspace=KeySpace("t", key), codec=Codec(key), redis=None
    )
    for r in records:
        register.records.l1.put(r.id_number, r, r.version)
    return register


def test_a_verify_answered_from_l1_never_suspends() -> None:
    register = register_with(record(ANNA))
    claims = [Claim(ANNA, full_name="Nguyễn Văn An")]
    [(outcome, found)] = finished_without_suspending(
        verify_claims(claims, register=register, today=TODAY)
    )
    assert outcome.verdict is Verdict.MATCH and found == record(ANNA)


async def test_a_miss_does_suspend() -> None:
    register = register_with(source=EmptySource())
    coro = register.get_many([ANNA])
    assert coro.send(None) is not None  # it yields a future: it waits for the tick's batch
    coro.close()
    await register.aclose()
