"""`verify audit verify` and `verify audit heads`: the audit's hash chains, with the owner's URL."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import asyncpg

from verify.adapters.audit_verify import Head
from verify.cli import CliError, _run, _settings, _with_conn


def _day(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {raw!r}") from None


def _read_heads(path: Path) -> list[Head]:
    try:
        lines = path.read_text("utf-8").splitlines()
        return [Head.from_json(line) for line in lines if line.strip()]
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise CliError(f"{path} is not a file of `verify audit heads` lines") from None


def cmd_audit(args: argparse.Namespace) -> int:
    from verify.adapters.audit_verify import chain_heads, verify_audit

    url = _settings().owner_database_url
    if args.action == "chain-unchained":
        chained = _run(
            _with_conn(url, lambda c: c.fetchval("SELECT audit_chain_unchained($1)", 1000))
        )
        print(f"{chained:,} rows without a chain were chained (one new chain)")
        return 0
    if args.action == "heads":
        heads = _run(_with_conn(url, lambda c: chain_heads(c, args.day)))
        sys.stdout.buffer.write(b"".join(h.to_json() + b"\n" for h in heads))
        return 0
    expected = _read_heads(args.heads) if args.heads else []

    async def work(conn: asyncpg.Connection) -> int:
        report = await verify_audit(conn, args.day, expected)
        scope = f"day {args.day}" if args.day else "all days"
        if report.intact:
            print(
                f"audit intact ({scope}): {report.batches:,} batches, {report.rows:,} rows "
                f"in {report.chains:,} chains checked"
                + (f", {len(expected):,} exported heads matched" if expected else "")
                + (
                    f"; {report.cut:,} batches cut by a retention drop taken by their "
                    "recorded links"
                    if report.cut
                    else ""
                )
            )
            return 0
        print(f"audit BROKEN ({scope}): first broken link: {report.breaks[0]}", file=sys.stderr)
        for other in report.breaks[1:]:
            print(f"  also: {other}", file=sys.stderr)
        print(f"{report.batches:,} batches, {report.rows:,} rows checked", file=sys.stderr)
        return 1

    code: int = _run(_with_conn(url, work))
    return code


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="the audit's hash chains (with the owner's URL)")
    actions = audit.add_subparsers(dest="action", required=True)
    check = actions.add_parser("verify", help="recompute the chains; exit 1 at a broken link")
    check.add_argument("--day", type=_day, help="only this UTC day (YYYY-MM-DD)")
    check.add_argument("--heads", type=Path, help="also check the heads exported to FILE")
    actions.add_parser(
        "chain-unchained",
        help="once, after the rollout that adds the chain: chain the rows the previous "
        "version wrote meanwhile (any other unchained row was added out of band)",
    )
    heads = actions.add_parser("heads", help="print each day's chain heads as JSON lines")
    heads.add_argument("--day", type=_day, help="only this UTC day (YYYY-MM-DD)")
    audit.set_defaults(func=cmd_audit)
