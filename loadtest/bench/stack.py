"""The bench's own stack: dev servers, a separate register database, an API key.

The register lives in its own database (``verify_bench`` by default) of the dev
PostgreSQL, seeded once and reused while its citizen count is the one asked for;
a register of another size is dropped and seeded again. The dev database of
`make run` is never touched.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg

SEED_TIMEOUT_S = 1200.0  # 10M citizens take ~75-120 s; the slack covers a busy machine
CLI_TIMEOUT_S = 120.0
DB_TIMEOUT_S = 900.0  # VACUUM of a freshly seeded 10M register


class StackError(RuntimeError):
    pass


@dataclass(frozen=True)
class Dev:
    env: dict[str, str]  # the VERIFY_* exports of `verify dev up`
    was_running: bool


def verify_cli(
    verify: Path, args: list[str], env: Mapping[str, str], timeout: float = CLI_TIMEOUT_S
) -> str:
    """Run ``verify ARGS``; its stdout, or StackError with its stderr."""
    try:
        done = subprocess.run(
            [str(verify), *args], env=dict(env), capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as e:
        raise StackError(f"verify {args[0]} did not finish within {timeout:.0f}s") from e
    if done.returncode != 0:
        raise StackError(f"verify {' '.join(args[:2])} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def dev_up(verify: Path, env: Mapping[str, str]) -> Dev:
    status = subprocess.run(
        [str(verify), "dev", "status"], env=dict(env), capture_output=True, timeout=CLI_TIMEOUT_S
    )
    exports: dict[str, str] = {}
    for line in verify_cli(verify, ["dev", "up", "--quiet"], env).splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep:
            exports[name.strip()] = value.strip()
    if "VERIFY_DATABASE_URL" not in exports:
        raise StackError("`verify dev up --quiet` printed no VERIFY_DATABASE_URL")
    return Dev(exports, was_running=status.returncode == 0)


def database_url(url: str, database: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url, timeout=10, command_timeout=DB_TIMEOUT_S)


async def _citizens(url: str, database: str) -> int | None:
    """Citizens in ``database``: None when it does not exist or has no register yet."""
    admin = await _connect(database_url(url, "postgres"))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            return None
    finally:
        await admin.close(timeout=10)
    conn = await _connect(database_url(url, database))
    try:
        if await conn.fetchval("SELECT to_regclass('citizens')") is None:
            return None
        count: int = await conn.fetchval("SELECT count(*) FROM citizens")
        return count
    finally:
        await conn.close(timeout=10)


async def _recreate(url: str, database: str) -> None:
    admin = await _connect(database_url(url, "postgres"))
    try:
        ident = '"' + database.replace('"', '""') + '"'
        await admin.execute(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {ident}")
    finally:
        await admin.close(timeout=10)


async def _execute(url: str, *statements: str) -> None:
    conn = await _connect(url)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close(timeout=10)


def ensure_register(
    verify: Path, env: Mapping[str, str], *, database: str, count: int, seed: int
) -> tuple[str, bool]:
    """The bench database's URL, with ``count`` citizens; True when it was seeded now.

    The URL is the serving role's (what `verify serve` uses); migrate and seed run with
    the owner's (VERIFY_ADMIN_DATABASE_URL, or the one URL there is)."""
    owner = env.get("VERIFY_ADMIN_DATABASE_URL") or env["VERIFY_DATABASE_URL"]
    url = database_url(env["VERIFY_DATABASE_URL"], database)
    admin_url = database_url(owner, database)
    bench_env = {**env, "VERIFY_DATABASE_URL": url, "VERIFY_ADMIN_DATABASE_URL": admin_url}
    have = asyncio.run(_citizens(owner, database))
    if have == count:
        verify_cli(verify, ["migrate"], bench_env)  # idempotent: new migrations only
        print(f"bench: register {database} has {count:,} citizens: reused", file=sys.stderr)
        return url, False
    print(
        f"bench: register {database} has {have if have is not None else 'no'} citizens: "
        f"seeding {count:,} (once; later runs reuse it)",
        file=sys.stderr,
    )
    asyncio.run(_recreate(owner, database))
    verify_cli(verify, ["migrate"], bench_env)
    seeded = verify_cli(
        verify, ["seed", "--count", str(count), "--seed", str(seed)], bench_env,
        timeout=SEED_TIMEOUT_S,
    )  # fmt: skip
    print(f"bench: {seeded.strip().splitlines()[-1]}", file=sys.stderr)
    # hint bits and the visibility map now, not during the first measurement
    asyncio.run(_execute(admin_url, "VACUUM (ANALYZE) citizens, id_cards, former_ids"))
    return url, True


def reset_audit(url: str) -> None:
    """The bench database's audit log grows by every run: start each run from empty
    (``url``: the owner's; the serving role may not truncate the audit)."""
    asyncio.run(_execute(url, "TRUNCATE audit_log"))


# far above what one machine serves: the bench measures the service, not a key's limit
BENCH_KEY_RATE = "10000000"


def create_key(verify: Path, env: Mapping[str, str]) -> str:
    """A key of the agency ``bench`` with the verify scope and a rate it never reaches."""
    args = ["keys", "create", "--agency", "bench", "--scopes", "verify", "--rate", BENCH_KEY_RATE]
    out = verify_cli(verify, args, env)
    lines = out.strip().splitlines()
    if not lines:
        raise StackError("`verify keys create` printed no key")
    return lines[-1].strip()
