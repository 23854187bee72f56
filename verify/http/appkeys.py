"""Typed application keys for every resource the handlers use (set by verify/bootstrap.py)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from aiohttp import web

from verify.metrics import Metrics
from verify.service.attributes import LookupDeps
from verify.service.auth import Authenticator
from verify.service.ports import Limiter
from verify.service.verification import VerifyDeps
from verify.settings import Settings


class Today(Protocol):
    def __call__(self) -> dt.date: ...


class DatabaseProbe(Protocol):
    async def __call__(self, limit_s: float) -> None:
        """Return once the primary database answered within ``limit_s``; raise
        DatabaseUnavailable otherwise."""
        ...


class Sampler(Protocol):
    def __call__(self) -> None: ...


SETTINGS = web.AppKey("settings", Settings)
TODAY = web.AppKey("today", Today)
AUTH = web.AppKey("auth", Authenticator)
METRICS = web.AppKey("metrics", Metrics)
VERIFY_DEPS = web.AppKey("verify_deps", VerifyDeps)
LOOKUP_DEPS = web.AppKey("lookup_deps", LookupDeps)
LIMITER = web.AppKey("limiter", Limiter)
DB_PING = web.AppKey("db_ping", DatabaseProbe)
SAMPLE_POOL = web.AppKey("sample_pool", Sampler)  # refreshes the pool gauges
