"""Waiting for a condition by retrying it until a deadline (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

_STEP_S = 0.01


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float, what: str = "condition"
) -> float:
    """Retry ``check`` until it is true; returns the seconds it took; fails after ``within``."""
    started = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"{what} not reached within {within:.2f}s")
        await asyncio.sleep(_STEP_S)  # yield between attempts, not a wait for a guess
