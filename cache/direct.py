"""The register read pipeline without cache tiers: per-tick batched reads from the source."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from cache.coalesce import TickBatcher
from cache.sources import RecordSource
from verify.domain.model import CitizenRecord


class DirectRegister:
    # the batchers' own ``request``, bound in __init__: a lookup is one future, no coroutine
    get_many: Callable[[Collection[str]], Awaitable[dict[str, CitizenRecord]]]
    resolve_former: Callable[[Collection[str]], Awaitable[dict[str, str]]]

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
        self.get_many = self._records.request
        self.resolve_former = self._former.request

    async def aclose(self) -> None:
        await self._records.aclose()
        await self._former.aclose()
