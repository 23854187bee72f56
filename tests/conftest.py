"""Fixtures shared by every tier: one PostgreSQL and one Redis per test session.

The servers are the embedded ones of ``verify.devservers`` (the same code as
`verify dev up`), started in a temporary folder, unless VERIFY_TEST_DATABASE_URL
and VERIFY_TEST_REDIS_URL name servers to use instead. Each test gets a
database of its own (a copy of a migrated template) and a Redis key prefix of
its own, so tests never clean up after each other.

Async tests run on uvloop, as `verify serve` does, in one loop for the session. The loop
fails the test that leaves behind what asyncio would only log (a task that died with nobody
awaiting it, a failing callback) or a connection it opened (tests/support/loop_guard.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from verify import devservers, native
from verify.adapters.migrate import migrate
from verify.adapters.roles import SERVING_ROLE, ensure_serving_role
from verify.settings import Secret, Settings

TEMPLATE_DB = "verify_template"
UNLIMITED_ATTEMPTS = 1_000_000_000

# uvloop for every async test, and a test that leaves a task error or an open connection
# behind on the loop fails (tests/support/loop_guard.py)
pytest_plugins = ["pytester", "tests.support.loop_guard"]


def pytest_report_header() -> str:
    """Which domain the run tests: compiled (mypyc) or the .py files (verify/native.py)."""
    return native.mode().line()


@dataclass(frozen=True)
class Servers:
    pg_admin_url: str  # a URL to the maintenance database, for CREATE DATABASE
    redis_url: str
    redis: devservers.Redis | None  # None when an external Redis is used
    serving_password: str = ""

    def db_url(self, name: str) -> str:
        """The owner's URL of database ``name``."""
        base, _, _ = self.pg_admin_url.rpartition("/")
        return f"{base}/{name}"

    def serving_url(self, name: str) -> str:
        """The serving role's URL of database ``name`` (what `verify serve` connects with)."""
        parts = urlsplit(self.db_url(name))
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{SERVING_ROLE}:{self.serving_password}@{host}"
        return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    ext_pg = os.environ.get("VERIFY_TEST_DATABASE_URL")
    ext_redis = os.environ.get("VERIFY_TEST_REDIS_URL")
    data = tmp_path_factory.mktemp("servers")
    pg = None if ext_pg else devservers.start_postgres(data)
    redis = None if ext_redis else devservers.start_redis(data)
    try:
        yield Servers(
            pg_admin_url=ext_pg or (pg.url if pg else ""),
            redis_url=ext_redis or (redis.url if redis else ""),
            redis=redis,
            serving_password=secrets.token_urlsafe(24),
        )
    finally:
        if redis is not None:
            redis.stop()
        if pg is not None:
            devservers.stop_postgres(data)


@pytest.fixture(scope="session")
async def template_db(servers: Servers) -> str:
    admin = await asyncpg.connect(servers.pg_admin_url, timeout=10)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        await admin.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        await ensure_serving_role(admin, servers.serving_password)
    finally:
        await admin.close()
    conn = await asyncpg.connect(servers.db_url(TEMPLATE_DB), timeout=10)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return TEMPLATE_DB


@contextlib.asynccontextmanager
async def scratch_database(servers: Servers, template: str | None = None) -> AsyncIterator[str]:
    """A database of its own (a copy of ``template``, else empty), dropped after: its URL."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    copy = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
    await _admin(servers, f"CREATE DATABASE {name}{copy}")
    try:
        yield servers.db_url(name)
    finally:
        await _admin(servers, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _admin(servers: Servers, sql: str) -> None:
    admin = await asyncpg.connect(servers.pg_admin_url, timeout=10)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


@pytest.fixture
async def blank_url(servers: Servers) -> AsyncIterator[str]:
    """An empty database (no migration applied): the start of an upgrade test."""
    async with scratch_database(servers) as url:
        yield url


@pytest.fixture
async def db_url(servers: Servers, template_db: str) -> AsyncIterator[str]:
    """A freshly migrated database for this test alone."""
    async with scratch_database(servers, template_db) as url:
        yield url


@pytest.fixture
async def pg_pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=4, command_timeout=10)
    assert pool is not None
    yield pool
    await asyncio.wait_for(pool.close(), 10)


def _secret() -> Secret:
    return Secret(secrets.token_bytes(32))


@pytest.fixture
def serving_url(servers: Servers, db_url: str) -> str:
    """This test's database as the serving role sees it."""
    return servers.serving_url(db_url.rpartition("/")[2])


@pytest.fixture
def settings(servers: Servers, db_url: str, serving_url: str) -> Settings:
    """Settings for this test: its own database, its own Redis key prefix, random secrets.

    The app connects as the serving role (migration 005), so every test through the app
    proves that role's grants are enough; admin work uses ``admin_database_url``."""
    return Settings(
        database_url=serving_url,
        admin_database_url=db_url,
        redis_url=servers.redis_url,
        hmac_key=_secret(),
        cache_key=_secret(),
        redis_key_prefix=f"t{uuid.uuid4().hex[:12]}",
        port=0,
        metrics_port=0,
        # tests verify the same few people over and over: the probing limit is tested
        # on its own (tests/e2e/test_probing_limit.py) with its default
        subject_attempts_per_day=UNLIMITED_ATTEMPTS,
    )


def b64(secret: Secret) -> str:
    return base64.b64encode(secret.value).decode()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data when it is there (reference facts), else the copy shipped in the package."""
    return Path(__file__).resolve().parents[2] / "shared" / "data"
