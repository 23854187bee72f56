"""The COPY of a commit's rows when asyncpg's protocol refuses it: the waiter asyncpg made
before refusing is observed, so the connection's loss leaves no unretrieved exception
behind (a backend terminated while the slot's connection idled: tests/integration/
test_audit_chain.py kills backends for real)."""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace
from typing import cast

import asyncpg
import pytest
from asyncpg.pool import PoolConnectionProxy

from verify.adapters.audit_rows import copy


class _RefusingProtocol:
    """As asyncpg's protocol after a FATAL read while idle: copy_in makes its waiter, then
    refuses to switch state, and the waiter fails when the connection is lost."""

    __slots__ = ("waiter",)

    def __init__(self) -> None:
        self.waiter: asyncio.Future[object] | None = None

    async def copy_in(self, *args: object) -> str:
        self.waiter = asyncio.get_running_loop().create_future()
        raise asyncpg.InternalClientError("cannot switch to state 21")

    def connection_lost(self) -> None:
        assert self.waiter is not None
        self.waiter.set_exception(asyncpg.ConnectionDoesNotExistError("closed"))
        self.waiter = None


class _Conn:
    def __init__(self) -> None:
        self._protocol = _RefusingProtocol()

    async def _prepare(self, sql: str, **options: object) -> SimpleNamespace:
        return SimpleNamespace(_state=None)


async def test_a_refused_copy_leaves_no_unretrieved_exception() -> None:
    errors: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        conn = _Conn()
        with pytest.raises(asyncpg.InternalClientError):
            await copy(cast(PoolConnectionProxy, conn), [("row",)], 1.0)
        conn._protocol.connection_lost()
        gc.collect()  # the waiter, dropped, would log "exception was never retrieved"
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert errors == []
