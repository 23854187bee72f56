"""In-memory fakes of the service's ports (verify/service/ports.py), as plain classes.

They implement the Protocols structurally and record what the use cases asked
of them, so a test can say what was read and what was audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence

from verify.domain.disclosure import CitizenProfile
from verify.domain.gcra import Decision, Limit, Quota, decide
from verify.domain.model import Card, CardState, CitizenRecord, Gender, LifeStatus, PartialDate
from verify.errors import DatabaseUnavailable
from verify.service.audit import AuditEntry
from verify.service.ports import HistoryRow

TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC)


def record(id12: str, name: str = "Nguyễn Văn An", **changes: object) -> CitizenRecord:
    base: dict[str, object] = {
        "id_number": id12,
        "full_name": name,
        "birth": PartialDate(dt.date(1990, 5, 14)),
        "gender": Gender.MALE,
        "status": LifeStatus.LIVING,
        "cards": (Card(dt.date(2021, 7, 1), dt.date(2030, 5, 14), CardState.ACTIVE),),
        "version": 1,
    }
    return CitizenRecord(**{**base, **changes})  # type: ignore[arg-type]


class FakeRegister:
    def __init__(
        self, records: Sequence[CitizenRecord] = (), formers: dict[str, str] | None = None
    ):
        self.records = {r.id_number: r for r in records}
        self.formers = dict(formers or {})
        self.reads: list[list[str]] = []  # the ids of every get_many, sorted
        self.former_reads: list[list[str]] = []

    async def get_many(self, ids: Collection[str]) -> dict[str, CitizenRecord]:
        self.reads.append(sorted(ids))
        return {i: self.records[i] for i in ids if i in self.records}

    async def resolve_former(self, former_ids: Collection[str]) -> dict[str, str]:
        self.former_reads.append(sorted(former_ids))
        return {f: self.formers[f] for f in former_ids if f in self.formers}


class FakeAudit:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.commits: list[list[AuditEntry]] = []

    @property
    def entries(self) -> list[AuditEntry]:
        return [e for commit in self.commits for e in commit]

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        if self.fail:
            raise DatabaseUnavailable("the audit log is unavailable")
        self.commits.append(list(entries))


class FakeCitizens:
    def __init__(
        self,
        profiles: Sequence[CitizenProfile] = (),
        formers: dict[str, str] | None = None,
        history: Sequence[HistoryRow] = (),
    ) -> None:
        self.profiles = {p.record.id_number: p for p in profiles}
        self.formers = dict(formers or {})
        self.rows = list(history)
        self.history_asks: list[tuple[bytes, dt.datetime, tuple[dt.datetime, int], int]] = []

    async def current_id(self, id_number: str) -> str | None:
        if len(id_number) == 9:
            return self.formers.get(id_number)
        return id_number

    async def profile(self, id12: str) -> CitizenProfile | None:
        return self.profiles.get(id12)

    async def history(
        self, subject: bytes, since: dt.datetime, before: tuple[dt.datetime, int], limit: int
    ) -> list[HistoryRow]:
        self.history_asks.append((subject, since, before, limit))
        rows = [r for r in self.rows if r.at >= since and (r.at, r.seq) < before]
        rows.sort(key=lambda r: (r.at, r.seq), reverse=True)
        return rows[:limit]


class FakeLimiter:
    """The GCRA of the domain on a hand-driven clock (microseconds)."""

    def __init__(self) -> None:
        self.now_us = 1_000_000_000
        self.tat: dict[str, int] = {}
        self.asked: list[tuple[str, int]] = []

    def take(self, key_id: str, limit: Limit, cost: int) -> bool:
        return False  # no leases: every request is charged

    async def check(self, key_id: str, limit: Limit, cost: int) -> Decision:
        return await self.charge(key_id, limit, cost)

    async def charge(self, key_id: str, limit: Limit, cost: int) -> Decision:
        self.asked.append((key_id, cost))
        decision = decide(self.tat.get(key_id), self.now_us, limit, cost)
        if decision.allowed:
            self.tat[key_id] = decision.tat_us
        return decision


class FakeAttempts:
    """The probing limit's port: every person has ``left`` attempts, kept per agency."""

    def __init__(self, left: int = 1_000_000) -> None:
        self._left: dict[tuple[int, str], int] = {}
        self._start = left

    async def spend(
        self, agency_id: int, costs: Mapping[str, int], quota: Quota
    ) -> dict[str, Decision]:
        out = {}
        for person, cost in costs.items():
            left = self._left.get((agency_id, person), self._start)
            allowed = cost <= left
            self._left[agency_id, person] = left - cost if allowed else left
            out[person] = Decision(allowed, 0, 0 if allowed else 1_000_000)
        return out
