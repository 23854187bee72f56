"""`verify keys create | list | set-rate | revoke`, with the owner's URL.

Every key has a rate (VERIFY_DEFAULT_KEY_RATE when --rate is absent), may name the
purposes it is for (--purposes, the first being what a claim without a purpose is
recorded under) and may expire (--expires: from 00:00 UTC that day the key is refused).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable

from verify.cli import CliError, _run, _settings, _with_conn


def _expiry(raw: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {raw!r}") from None
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _create(args: argparse.Namespace, url: str, default_rate: int) -> int:
    from verify.adapters.api_keys import create_key
    from verify.service.auth import mint_key, parse_purposes, parse_scopes

    try:
        scopes = parse_scopes(args.scopes)
        purposes = parse_purposes(args.purposes) if args.purposes is not None else ()
    except ValueError as e:
        raise CliError(str(e)) from None
    if args.burst is not None and args.rate is None:
        raise CliError("--burst goes with --rate")
    if args.expires is not None and args.expires <= dt.datetime.now(dt.UTC):
        raise CliError("--expires must be a day in the future")
    rate = args.rate or default_rate
    burst = args.burst or 2 * rate
    key = mint_key()
    _run(
        _with_conn(
            url,
            lambda c: create_key(
                c,
                key,
                agency=args.agency,
                scopes=scopes,
                rate_per_s=rate,
                burst=burst,
                purposes=purposes,
                expires_at=args.expires,
            ),
        )
    )
    print(
        f"key id {key.key_id} for agency {args.agency!r}, scopes {','.join(sorted(scopes))}, "
        f"purposes {','.join(purposes) or '(any)'}, rate {rate}/s burst {burst}"
        + (f", expires {args.expires:%Y-%m-%d}" if args.expires else "")
    )
    print("the key is shown once; store it now:")
    print(key.token)
    return 0


def _when(value: dt.datetime | None) -> str:
    return "-" if value is None else f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M}Z"


def _list(url: str) -> int:
    from verify.adapters.api_keys import list_keys

    keys = _run(_with_conn(url, list_keys))
    header = ("KEY ID", "AGENCY", "SCOPES", "PURPOSES", "RATE/S", "BURST", "CREATED", "EXPIRES",
              "REVOKED")  # fmt: skip
    rows = [header] + [
        (k.key_id, k.agency, ",".join(k.scopes), ",".join(k.purposes) or "(any)",
         str(k.rate_per_s), str(k.burst), _when(k.created_at), _when(k.expires_at),
         _when(k.revoked_at))
        for k in keys
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from verify.adapters.api_keys import revoke_key, set_rate

    settings = _settings()
    url = settings.owner_database_url
    if args.action == "create":
        return _create(args, url, settings.default_key_rate)
    if args.action == "list":
        return _list(url)
    if args.action == "set-rate":
        burst = args.burst or 2 * args.rate
        done = _run(_with_conn(url, lambda c: set_rate(c, args.key_id, args.rate, burst)))
        print(
            f"key {args.key_id}: rate {args.rate}/s burst {burst} (in effect within the "
            "servers' key cache TTL)"
            if done
            else f"no key {args.key_id}"
        )
        return 0 if done else 1
    done = _run(_with_conn(url, lambda c: revoke_key(c, args.key_id)))
    print(f"key {args.key_id} revoked" if done else f"no active key {args.key_id}")
    return 0 if done else 1


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], positive: Callable[[str], int]
) -> None:
    keys = sub.add_parser("keys", help="API keys (with the owner's URL)")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create", help="mint a key (printed once, on the last line)")
    create.add_argument("--agency", required=True)
    create.add_argument("--scopes", required=True, help="comma-separated")
    create.add_argument(
        "--purposes", help="comma-separated lowercase identifiers (default: any purpose)"
    )
    create.add_argument(
        "--rate", type=positive, help="requests per second (default: VERIFY_DEFAULT_KEY_RATE)"
    )
    create.add_argument("--burst", type=positive, help="burst size (default: 2 x rate)")
    create.add_argument("--expires", type=_expiry, help="YYYY-MM-DD: refused from that day (UTC)")
    keys_sub.add_parser("list", help="every key, never a secret")
    rate = keys_sub.add_parser("set-rate", help="change a key's rate")
    rate.add_argument("key_id")
    rate.add_argument("rate", type=positive, help="requests per second")
    rate.add_argument("--burst", type=positive, help="burst size (default: 2 x rate)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    keys.set_defaults(func=cmd_keys)
