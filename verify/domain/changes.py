"""The register's change log as plain data: what changed, and the snapshot it was read in.

The cache's invalidation listener reads these (through a change source it is
handed); the Postgres adapter makes them. Neither needs the other's code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    id_number: str  # 12 digits
    former_id: str | None  # 9 digits, when a former ID changed
    version: int | None  # the person's version after the change; None: gone or unknown


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    xmin: int  # oldest transaction still running when the rows were read
    xmax: int  # first transaction id not yet started then
    upto: int  # every change visible then with seq <= upto is in ``changes``
    changes: list[Change]


class ChangeFeedUnavailable(Exception):
    """The change log cannot be read now (connection lost or refused, timeout)."""
