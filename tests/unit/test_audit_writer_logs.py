"""The audit writer's error lines name the error's kind, never its message or traceback:
a bug's message can carry the values of the rows it failed on (invariant 5)."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import cast

import asyncpg
import orjson
import pytest

from verify.adapters.audit import PgAuditWriter
from verify.adapters.audit_chain import Chain, Sealed, SealedRecords
from verify.errors import DatabaseUnavailable
from verify.logs import JsonFormatter
from verify.service.audit import AuditEntry

ID_NUMBER = "001203012345"
NAME = "Nguyễn Văn An"
PERSONAL = f"{ID_NUMBER} {NAME} 2003-05-14"


class _BrokenChain(Chain):
    """A bug in sealing whose message carries personal data."""

    def seal_entries(self, entries: Sequence[AuditEntry]) -> Sealed:
        raise ValueError(f"cannot seal the row of {PERSONAL}")

    def seal_records(self, entries: Sequence[AuditEntry]) -> SealedRecords:
        raise ValueError(f"cannot seal the row of {PERSONAL}")


class _Acquire:
    async def __aenter__(self) -> None:
        raise RuntimeError(f"unexpected failure with {PERSONAL}")

    async def __aexit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class _BrokenPool:
    """A pool whose acquire fails with a bug's error (not a driver error)."""

    def acquire(self, *, timeout: float) -> _Acquire:
        return _Acquire()


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("verify.audit")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield out
    logger.removeHandler(handler)
    logger.setLevel(old)


def _entry() -> AuditEntry:
    return AuditEntry(
        at=dt.datetime(2026, 11, 30, 1, 2, 3, tzinfo=dt.UTC), agency_id=1,
        request_id="r-1", kind="verify", purpose="kyc", subject=b"\x01" * 32,
        verdict="match", latency_ms=1.0,
    )  # fmt: skip


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


async def test_a_failed_seal_logs_its_kind_only(captured: io.StringIO) -> None:
    pool = cast(asyncpg.Pool, _BrokenPool())
    writer = PgAuditWriter(pool, timeout=1.0, max_in_flight=1, new_chain=_BrokenChain)
    with pytest.raises(DatabaseUnavailable):
        await writer.record([_entry()])
    await writer.aclose()
    text = captured.getvalue()
    assert [(x["msg"], x["error"]) for x in _lines(captured)] == [
        ("audit rows could not be sealed", "ValueError")
    ]
    assert ID_NUMBER not in text and NAME not in text and "Traceback" not in text


async def test_an_unexpected_insert_error_logs_its_kind_only(captured: io.StringIO) -> None:
    pool = cast(asyncpg.Pool, _BrokenPool())
    writer = PgAuditWriter(pool, timeout=1.0, max_in_flight=1)
    with pytest.raises(DatabaseUnavailable):
        await writer.record([_entry()])
    await writer.aclose()
    text = captured.getvalue()
    assert [(x["msg"], x["error"]) for x in _lines(captured)] == [
        ("audit insert failed unexpectedly", "RuntimeError")
    ]
    assert ID_NUMBER not in text and NAME not in text and "Traceback" not in text
