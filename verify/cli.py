"""The `verify` command line: dev servers, migrate, seed, load, keys, audit, serve, worker."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import asyncpg

from verify import devservers
from verify.settings import Settings, SettingsError

T = TypeVar("T")
DEV_DATABASE = "verify"


class CliError(Exception):
    pass


def _data_dir() -> Path:
    return Path(os.environ.get("VERIFY_DATA_DIR", ".data")).resolve()


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except SettingsError as e:
        raise CliError(str(e)) from None


def _run(coro: Awaitable[T]) -> T:
    import uvloop

    async def main() -> T:
        return await coro

    return uvloop.run(main())


async def _connect(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(url, timeout=10, command_timeout=3600)
    except (OSError, asyncpg.PostgresError, TimeoutError) as e:
        raise CliError(f"cannot connect to the database: {type(e).__name__}") from e


async def _with_conn(url: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    conn = await _connect(url)
    try:
        return await work(conn)
    finally:
        await conn.close(timeout=10)


# ------------------------------------------------------------------ dev


async def _ensure_database(admin_url: str, name: str, serving_password: str) -> None:
    from verify.adapters.roles import ensure_serving_role

    conn = await _connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
        await ensure_serving_role(conn, serving_password)
    finally:
        await conn.close(timeout=10)


def _exports(pg: devservers.Postgres, redis: devservers.Redis) -> list[str]:
    from verify.adapters.roles import SERVING_ROLE

    password = devservers.dev_serving_password(_data_dir())
    env = {
        # `verify serve` runs as the serving role; the admin commands as the owner
        "VERIFY_DATABASE_URL": pg.url_as(SERVING_ROLE, password, DEV_DATABASE),
        "VERIFY_ADMIN_DATABASE_URL": pg.url_for(DEV_DATABASE),
        "VERIFY_REDIS_URL": redis.url,
        **devservers.dev_secrets(_data_dir()),
    }
    return [f"export {k}={v}" for k, v in env.items()]


def _dev_up(quiet: bool) -> int:
    data = _data_dir()
    pg = devservers.start_postgres(data)
    redis = devservers.start_redis(data)
    _run(_ensure_database(pg.url, DEV_DATABASE, devservers.dev_serving_password(data)))
    if not quiet:
        print(
            f"PostgreSQL on 127.0.0.1:{pg.port}, Redis on 127.0.0.1:{redis.port}", file=sys.stderr
        )
        print('# eval "$(verify dev env)" to use them from this shell', file=sys.stderr)
    print("\n".join(_exports(pg, redis)))
    return 0


def _dev_down() -> int:
    data = _data_dir()
    pg = "stopped" if devservers.stop_postgres(data) else "was not running"
    redis = "stopped" if devservers.stop_redis(data) else "was not running"
    print(f"PostgreSQL {pg}; Redis {redis}")
    return 0


def _dev_status(env: bool) -> int:
    data = _data_dir()
    pg, redis = devservers.postgres_status(data), devservers.redis_status(data)
    if env:
        if pg is None or redis is None:
            raise CliError("the dev servers are not running: run `verify dev up`")
        print("\n".join(_exports(pg, redis)))
        return 0
    print(f"PostgreSQL: {f'running on 127.0.0.1:{pg.port}' if pg else 'stopped'}")
    print(f"Redis: {f'running on 127.0.0.1:{redis.port}' if redis else 'stopped'}")
    return 0 if pg and redis else 1


def cmd_dev(args: argparse.Namespace) -> int:
    if args.action == "up":
        return _dev_up(args.quiet)
    if args.action == "down":
        return _dev_down()
    return _dev_status(env=args.action == "env")


# ------------------------------------------------------------- database


def cmd_migrate(args: argparse.Namespace) -> int:
    from verify.adapters.migrate import migrate

    applied = _run(_with_conn(_settings().owner_database_url, migrate))
    print(f"applied {', '.join(applied)}" if applied else "schema up to date")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from verify.adapters import seed

    url = _settings().owner_database_url  # the parallel path drops and rebuilds keys: the owner

    async def work(conn: asyncpg.Connection) -> int:
        resume = await seed.unfinished_seed(conn)
        if args.if_empty and not resume and not await seed.register_is_empty(conn):
            print("register not empty: seed skipped")
            return 0
        report = await seed.seed_register(
            conn, count=args.count, seed=args.seed, today=dt.date.today(), progress=True,
            dsn=url, jobs=args.jobs,
        )  # fmt: skip
        print(
            f"seeded {report.citizens:,} citizens, {report.cards:,} cards, "
            f"{report.former_ids:,} former IDs in {report.seconds:.1f}s "
            f"({report.citizens_per_s:,.0f} citizens/s"
            f"{f'; rows in {report.load_seconds:.1f}s' if report.load_seconds else ''}"
            f"{'; resumed' if report.resumed else ''})"
        )
        return 0

    try:
        return _run(_with_conn(url, work))
    except seed.SeedError as e:
        raise CliError(str(e)) from None


def cmd_load(args: argparse.Namespace) -> int:
    from verify.adapters import csvload

    if args.citizens is None and args.cards is None:
        raise CliError("give --citizens FILE and/or --cards FILE")
    for path in (args.citizens, args.cards):
        if path is not None and not path.is_file():
            raise CliError(f"no such file: {path}")

    async def work(conn: asyncpg.Connection) -> csvload.LoadReport:
        return await csvload.load_csv(conn, citizens=args.citizens, cards=args.cards)

    try:
        report = _run(_with_conn(_settings().owner_database_url, work))
    except csvload.LoadError as e:
        raise CliError(str(e)) from None
    for error in report.errors:
        print(f"{error.file}:{error.line}: {error.reason}", file=sys.stderr)
    print(
        f"loaded {report.citizens_loaded:,} citizens, {report.cards_loaded:,} cards, "
        f"{report.former_ids_loaded:,} former IDs; {len(report.errors):,} bad rows"
    )
    return 1 if report.errors else 0


def cmd_maintenance(args: argparse.Namespace) -> int:
    from verify.adapters.job_retention import prune_jobs
    from verify.adapters.maintenance import run_maintenance

    settings = _settings()

    async def work(conn: asyncpg.Connection) -> int:
        report = await run_maintenance(
            conn, retention_days=settings.audit_retention_days, today=dt.datetime.now(dt.UTC).date()
        )
        if report.skipped:
            print("another instance is running maintenance: skipped")
            return 0
        print(
            f"audit partitions: {report.created} created, {len(report.dropped)} dropped "
            f"(retention {settings.audit_retention_days} days), {report.moved} rows moved "
            f"out of audit_log_default; {report.changes_pruned} change-log rows pruned"
        )
        if report.in_default:
            print(
                f"warning: {report.in_default} audit rows in audit_log_default are dated "
                "beyond the partitions' look-ahead (a clock far ahead?): see the README",
                file=sys.stderr,
            )
        jobs = await prune_jobs(conn, retention_days=settings.job_retention_days)
        print(
            f"bulk jobs: {jobs.jobs} finished more than {settings.job_retention_days} days ago "
            f"deleted ({jobs.result_rows} results rows, {jobs.input_rows} input rows, "
            f"{jobs.batches} batches)"
        )
        return 0

    return _run(_with_conn(settings.owner_database_url, work))


# ------------------------------------------------------------------ keys


def cmd_demo_curl(args: argparse.Namespace) -> int:
    from verify.adapters.demo import demo_request

    settings = _settings()
    body = _run(_with_conn(settings.database_url, demo_request))
    if body is None:
        raise CliError("the register is empty: run `verify seed` first")
    port = settings.port
    print("\nOnce the server is listening, try:\n")
    print(
        f"curl -s http://127.0.0.1:{port}/v1/verify -H 'Authorization: Bearer {args.key}' "
        f"-H 'Content-Type: application/json' -d '{body}'\n"
    )
    return 0


# ----------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace) -> int:
    from verify.server import serve

    settings = _settings()
    serve(
        settings,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        reuse_port=args.reuse_port,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from verify import logs
    from verify.worker import work

    settings = _settings()
    _run(work(settings, logs.configure(settings.log_level)))
    return 0


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {raw}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="verify", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="embedded PostgreSQL and Redis for local work")
    dev.add_argument("action", choices=["up", "down", "status", "env"])
    dev.add_argument("--quiet", action="store_true", help="print only the export lines")
    dev.set_defaults(func=cmd_dev)
    sub.add_parser("migrate", help="apply schema migrations").set_defaults(func=cmd_migrate)
    maint = sub.add_parser(
        "maintenance", help="audit partitions: create ahead, drop expired; delete expired bulk jobs"
    )
    maint.set_defaults(func=cmd_maintenance)
    from verify import cli_audit  # its module imports this one

    cli_audit.add_parser(sub)
    seed = sub.add_parser("seed", help="load a synthetic population")
    seed.add_argument("--count", type=int, required=True)
    seed.add_argument("--seed", type=int, default=1)
    seed.add_argument("--if-empty", action="store_true", help="skip when the register has data")
    seed.add_argument(
        "--jobs", type=int, default=None,
        help="loader processes of a large seed (default: cores + 1); a re-run resumes",
    )  # fmt: skip
    seed.set_defaults(func=cmd_seed)
    load = sub.add_parser("load", help="load register records from CSV")
    load.add_argument("--citizens", type=Path)
    load.add_argument("--cards", type=Path)
    load.set_defaults(func=cmd_load)
    from verify import cli_keys  # its module imports this one

    cli_keys.add_parser(sub, _positive)
    demo = sub.add_parser("demo-curl", help="print a working curl example")
    demo.add_argument("--key", required=True)
    demo.set_defaults(func=cmd_demo_curl)
    serve = sub.add_parser("serve", help="serve the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument(
        "--reuse-port",
        action="store_true",
        help="one process that shares its port with other instances (SO_REUSEPORT)",
    )
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run bulk jobs from the queue (drains on SIGTERM)")
    worker.set_defaults(func=cmd_worker)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (CliError, devservers.DevServerError) as e:
        print(f"verify: error: {e}", file=sys.stderr)
        return 2
    return code
