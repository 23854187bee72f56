"""Readiness from a background check: probes answer from a cached result, never a connection.

One task per process runs every check (each bounded by ``timeout_s``) every
``interval_s`` and keeps the outcome; ``/readyz`` and the ``verify_db_up`` gauge
read that outcome. Probes therefore cost nothing, however often they come, and
a flood of them cannot take a database connection from the API. A result older
than ``stale_after_s`` (the checking task is stuck, or the loop is) counts as a
failure.

Only the ``required`` checks decide readiness (Postgres: without it no answer
can be audited). The others are reported for information: Redis only speeds
things up, and the service answers without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

Check = Callable[[], Awaitable[object]]  # raises (or times out) when the dependency fails

READINESS_INTERVAL_S = 1.0
READINESS_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class Result:
    ok: bool
    at: float  # clock reading when the check finished
    error: str | None = None  # the exception's type name, never its message


class Readiness:
    def __init__(
        self,
        checks: Mapping[str, Check],
        *,
        required: frozenset[str],
        interval_s: float = READINESS_INTERVAL_S,
        timeout_s: float = READINESS_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
        on_result: Callable[[str, bool], None] | None = None,
    ) -> None:
        assert required <= checks.keys()
        self._checks = dict(checks)
        self._required = required
        self._interval = interval_s
        self._timeout = timeout_s
        self._clock = clock
        self._on_result = on_result
        self._results: dict[str, Result] = {}
        self.rounds = 0  # completed rounds of checks (tests count them)

    @property
    def stale_after_s(self) -> float:
        return 3 * (self._interval + self._timeout)

    async def check_once(self) -> None:
        names = list(self._checks)
        outcomes = await asyncio.gather(*(self._run(name) for name in names))
        for name, result in zip(names, outcomes, strict=True):
            self._results[name] = result
            if self._on_result is not None:
                self._on_result(name, result.ok)
        self.rounds += 1

    async def _run(self, name: str) -> Result:
        try:
            async with asyncio.timeout(self._timeout):
                await self._checks[name]()
        except Exception as e:  # any failure of a dependency means "not ok": record its kind
            return Result(False, self._clock(), type(e).__name__)
        return Result(True, self._clock())

    def report(self) -> tuple[bool, dict[str, object]]:
        """(ready, body): from the cached results only."""
        now = self._clock()
        checks: dict[str, object] = {}
        ready = True
        for name in self._checks:
            result = self._results.get(name)
            fresh = result is not None and now - result.at <= self.stale_after_s
            ok = bool(result and result.ok and fresh)
            entry: dict[str, object] = {"ok": ok, "required": name in self._required}
            if result is not None:
                entry["age_s"] = round(now - result.at, 3)
                if result.error is not None:
                    entry["error"] = result.error
            checks[name] = entry
            if name in self._required and not ok:
                ready = False
        return ready, {"status": "ready" if ready else "not_ready", "checks": checks}

    async def run_forever(self) -> None:
        while True:
            await self.check_once()
            await asyncio.sleep(self._interval)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Readiness]:
        """The check loop as a task, for the lifetime of the block."""
        task = asyncio.get_running_loop().create_task(self.run_forever(), name="readiness")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
