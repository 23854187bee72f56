"""The register read pipeline without cache tiers: per-tick batched reads from the source."""

from __future__ import annotations

from collections.abc import Callable, Collection

from cache.coalesce import TickBatcher
from cache.sources import RecordSource
from verify.domain.model import CitizenRecord


class DirectRegister:
    def __init__(
        self,
        source: RecordSource,
        *,
        max_batch: int = 500,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._records: TickBatcher[str, CitizenRecord] = TickBatcher(
            source.fetch_records, max_batch=max_batch, on_batch=on_batch
        )
        self._former: TickBatcher[str, str] = TickBatcher(
            source.resolve_former, max_batch=max_batch
        )

    async def get_many(self, ids: Collection[str]) -> dict[str, CitizenRecord]:
        return await self._records.get_many(ids)

    async def resolve_former(self, former_ids: Collection[str]) -> dict[str, str]:
        return await self._former.get_many(former_ids)

    async def aclose(self) -> None:
        await self._records.aclose()
        await self._former.aclose()
