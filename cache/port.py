"""The lookup port the service layer depends on, and the source the cache reads through to."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from verify.domain.model import CitizenRecord


class RecordSource(Protocol):
    """The system of record (Postgres): one call per batch of keys."""

    async def fetch_records(self, ids: list[str]) -> dict[str, CitizenRecord]: ...

    async def resolve_former(self, former_ids: list[str]) -> dict[str, str]: ...


class RecordLookup(Protocol):
    """What verification reads: records by 12-digit ID, and former CMND -> current ID."""

    async def get_many(self, ids: Collection[str]) -> dict[str, CitizenRecord]: ...

    async def resolve_former(self, former_ids: Collection[str]) -> dict[str, str]: ...

    async def aclose(self) -> None: ...
