"""Serving for the naive comparison servers: the same framework settings as `verify serve`.

uvloop, aiohttp without its access log, ``workers`` processes sharing the port with
SO_REUSEPORT, spawned (not forked) and stopped by SIGTERM/SIGINT forwarded from the parent.
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import sys
from collections.abc import Callable
from types import FrameType

from aiohttp import web

AppFactory = Callable[[argparse.Namespace], web.Application]


def parser(description: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=2)
    return p


def _worker(factory: AppFactory, args: argparse.Namespace) -> None:
    import uvloop

    uvloop.install()
    web.run_app(
        factory(args),
        host=args.host,
        port=args.port,
        access_log=None,
        reuse_port=True,
        print=None,
        handle_signals=True,
    )


def serve(factory: AppFactory, args: argparse.Namespace) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(factory, args)) for _ in range(args.workers)]
    for proc in procs:
        proc.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.join()
    failed = [p.exitcode for p in procs if p.exitcode not in (0, -signal.SIGTERM)]
    sys.exit(1 if failed else 0)
