"""Which requests get an access-log line: the audit is the record of every request.

``VERIFY_ACCESS_LOG``: ``errors`` (the default) logs answers with a status of
400 or more and requests slower than ``SLOW_S``; ``sample:N`` adds one request
in N; ``all`` logs every request (one JSON line each costs about as much CPU
as the rest of a cached verify, see FIELD-NOTES).
"""

from __future__ import annotations

SLOW_S = 0.5


class AccessLogPolicy:
    def __init__(self, mode: str) -> None:
        kind, _, n = mode.partition(":")
        self.all = kind == "all"
        self.every = int(n) if kind == "sample" else 0  # 0: no sample
        self._count = 0

    def wanted(self, status: int, elapsed_s: float) -> bool:
        if self.all or status >= 400 or elapsed_s >= SLOW_S:
            return True
        if self.every:
            self._count += 1
            if self._count >= self.every:
                self._count = 0
                return True
        return False
