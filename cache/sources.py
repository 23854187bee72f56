"""What the cache is handed: the system of record to read through to, and its change feed.

The cache defines these ports; the Postgres adapters implement them
(``verify/adapters/pg.py``, ``verify/adapters/changes.py``), and the
composition root (``verify/bootstrap.py``) hands them in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from verify.domain.changes import ChangeBatch
from verify.domain.model import CitizenRecord


class RecordSource(Protocol):
    """The system of record (Postgres): one call per batch of keys."""

    async def fetch_records(self, ids: list[str]) -> dict[str, CitizenRecord]: ...

    async def resolve_former(self, former_ids: list[str]) -> dict[str, str]: ...


class ChangeFeed(Protocol):
    """One live connection to the change log. Every call raises ChangeFeedUnavailable when
    the log cannot be read; the connection then is of no further use (``close`` it)."""

    @property
    def backend_pid(self) -> int | None: ...

    def is_closed(self) -> bool: ...

    async def start(self) -> tuple[int, int]:
        """Where a new listener starts: the highest seq now, and the snapshot's xmax."""
        ...

    async def read(self, after: int, *, page: int, max_rows: int) -> ChangeBatch:
        """The changes with ``seq > after`` (pages of ``page``, at most ~``max_rows``)."""
        ...

    def close(self) -> None: ...


class ChangeSource(Protocol):
    async def connect(self, wake: Callable[[], None]) -> ChangeFeed:
        """A new feed; ``wake`` is called on every notification of a change and on loss of
        the connection. Raises ChangeFeedUnavailable."""
        ...
