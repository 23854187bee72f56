"""Typed application keys for every resource the handlers use (set by verify/bootstrap.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol

from aiohttp import web

from verify.metrics import Metrics
from verify.service.admission import Admission
from verify.service.attributes import LookupDeps
from verify.service.auth import Authenticator
from verify.service.ports import Limiter
from verify.service.readiness import Readiness
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
ADMISSION = web.AppKey("admission", Admission)
# set by `verify serve` until its API port listens: readiness must not say yes before it
STARTING = web.AppKey("starting", asyncio.Event)
DRAINING = web.AppKey("draining", asyncio.Event)  # set on SIGTERM: readiness fails, streams end
DB_PING = web.AppKey("db_ping", DatabaseProbe)
SAMPLE_POOL = web.AppKey("sample_pool", Sampler)  # refreshes the pool gauges
READINESS = web.AppKey("readiness", Readiness)  # the background readiness check
