"""A plain progress bar on stderr (no dependency): redrawn at most a few times a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Bar:
    def __init__(
        self, total: int | None, label: str, *, out: TextIO | None = None, enabled: bool = True
    ) -> None:
        self.total = total
        self.done = 0
        self.label = label
        self._out = out or sys.stderr
        self._enabled = enabled
        self._started = time.monotonic()
        self._drawn = 0.0

    def update(self, n: int = 1) -> None:
        self.set(self.done + n)

    def set(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        now = time.monotonic()
        if self._enabled and now - self._drawn >= 0.2:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self._started, 1e-9)
        if self.total:
            share = min(1.0, self.done / self.total)
            bar = "#" * int(share * 30)
            text = f"{self.label} [{bar:<30}] {share:6.1%} {self.done}/{self.total}"
        else:
            text = f"{self.label} {self.done}"
        self._out.write(f"\r{text} {rate:,.0f}/s")
        self._out.flush()

    def write(self, text: str) -> None:
        """A message on its own line, the bar redrawn below it at the next update."""
        if self._enabled:
            self._out.write("\r\033[K")
            self._drawn = 0.0
        self._out.write(text)

    def close(self) -> None:
        if self._enabled:
            self._drawn = 0.0
            self._draw(time.monotonic())
            self._out.write("\n")
            self._out.flush()
