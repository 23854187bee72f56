"""Typed application keys for every resource the handlers use."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from typing import Protocol

import asyncpg
from aiohttp import web

from cache.port import RecordLookup
from verify.metrics import Metrics
from verify.readiness import Readiness
from verify.service.auth import Authenticator
from verify.service.limits import Limiter
from verify.service.lookup import LookupDeps
from verify.service.verification import VerifyDeps
from verify.settings import Settings


class Today(Protocol):
    def __call__(self) -> dt.date: ...


class Ping(Protocol):
    def __call__(self) -> Awaitable[object]: ...


SETTINGS = web.AppKey("settings", Settings)
TODAY = web.AppKey("today", Today)
POOL = web.AppKey("pool", asyncpg.Pool)
LOOKUP = web.AppKey("lookup", RecordLookup)
AUTH = web.AppKey("auth", Authenticator)
METRICS = web.AppKey("metrics", Metrics)
VERIFY_DEPS = web.AppKey("verify_deps", VerifyDeps)
LOOKUP_DEPS = web.AppKey("lookup_deps", LookupDeps)
LIMITER = web.AppKey("limiter", Limiter)
READINESS = web.AppKey("readiness", Readiness)
REDIS_PING = web.AppKey("redis_ping", Ping)  # informational readiness check
