"""The ports of the service layer: what the use cases need from the world, as Protocols.

Adapters implement them (Postgres, Redis, the cache layer); the composition
root (``verify/bootstrap.py``) hands implementations to the use cases; unit
tests hand in-memory fakes. Nothing here knows a driver.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from verify.domain.disclosure import CitizenProfile
from verify.domain.gcra import Decision, Limit
from verify.domain.model import CitizenRecord
from verify.service.audit import AuditEntry

if TYPE_CHECKING:  # auth.py imports this module (for KeyStore)
    from verify.service.auth import StoredKey


class Register(Protocol):
    """What verification reads: records by 12-digit ID, and former CMND -> current ID.

    Awaitables, not only coroutines: the cache answers with its batcher's future (one
    coroutine less per lookup); an ``async def`` implements them as well."""

    def get_many(self, ids: Collection[str]) -> Awaitable[dict[str, CitizenRecord]]: ...

    def resolve_former(self, former_ids: Collection[str]) -> Awaitable[dict[str, str]]: ...


class Audit(Protocol):
    async def record(self, entries: Sequence[AuditEntry]) -> None:
        """Return only once every entry is committed; raise DatabaseUnavailable otherwise."""
        ...


@dataclass(frozen=True, slots=True)
class HistoryRow:
    seq: int
    at: dt.datetime
    agency: str
    kind: str
    purpose: str | None
    verdict: str | None
    fields: tuple[str, ...] | None
    terminal: str | None = None  # the counter or kiosk that made the check


class Citizens(Protocol):
    """Reads of the attribute lookup and the access history."""

    async def current_id(self, id_number: str) -> str | None: ...

    async def profile(self, id12: str) -> CitizenProfile | None: ...

    async def history(
        self, subject: bytes, since: dt.datetime, before: tuple[dt.datetime, int], limit: int
    ) -> list[HistoryRow]: ...


class KeyStore(Protocol):
    async def get_key(self, key_id: str) -> StoredKey | None: ...


class Limiter(Protocol):
    def take(self, key_id: str, limit: Limit, cost: int) -> bool:
        """Spend ``cost`` from what this process holds of the key's limit, with no await
        (True); False: nothing was spent, ``charge`` decides."""
        ...

    async def charge(self, key_id: str, limit: Limit, cost: int) -> Decision:
        """Charge ``cost`` on the key's shared bucket (what ``take`` could not spend)."""
        ...

    async def check(self, key_id: str, limit: Limit, cost: int) -> Decision:
        """``take``, else ``charge``."""
        ...
