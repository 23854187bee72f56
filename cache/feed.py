"""Which change-log sequence numbers are settled: the listener's cursor, as pure state.

Sequence numbers are taken in one order and committed in another: seq 10 may
become visible after seq 11. Reading ``seq > last_seen`` would then skip 10 for
ever. Instead the window keeps ``low`` (every change with seq <= low has been
seen or can never appear) and the seqs already seen above it, and it reads
``seq > low`` again until the gaps settle: everything visible up to ``upto`` in
a snapshot is settled once the oldest running transaction (``xmin``) is past
that snapshot's ``xmax``, i.e. once every transaction then in progress ended.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from verify.domain.changes import Change, ChangeBatch


class FeedWindow:
    """Starts at ``low`` = the highest seq visible in a snapshot whose ``xmax`` is given.

    Transactions running in that snapshot may still commit changes with a seq
    below ``low``; they are never read, so the window is :attr:`ready` (to be
    trusted) only once all of them have ended. Until then the caches are
    bypassed, so nothing read before such a commit can be cached.
    """

    def __init__(self, low: int, xmax: int) -> None:
        self.low = low
        self._start_xmax = xmax
        self._xmin = 0
        self._seen: set[int] = set()
        self._horizons: deque[tuple[int, int]] = deque()

    @property
    def ready(self) -> bool:
        return self._xmin >= self._start_xmax

    def rewind(self, low: int) -> None:
        """Read again from ``low`` (a cursor from Redis, behind ours): horizons start over."""
        if low < self.low:
            self.low = low
            self._horizons.clear()

    @property
    def unsettled(self) -> int:
        return len(self._seen)

    def fresh(self, changes: Iterable[Change]) -> list[Change]:
        """The changes not seen before; they are marked seen."""
        new = [c for c in changes if c.seq > self.low and c.seq not in self._seen]
        self._seen.update(c.seq for c in new)
        return new

    def observe(self, batch: ChangeBatch) -> None:
        """Record what ``batch`` saw, and settle what earlier snapshots left open."""
        self._xmin = max(self._xmin, batch.xmin)
        if not self._horizons or batch.upto > self._horizons[-1][0]:
            self._horizons.append((batch.upto, batch.xmax))
        moved = False
        while self._horizons and self._horizons[0][1] <= batch.xmin:
            upto, _ = self._horizons.popleft()
            if upto > self.low:
                self.low, moved = upto, True
        if moved:
            self._seen = {s for s in self._seen if s > self.low}
