"""Serving: uvloop, no aiohttp access log (we write our own line), SO_REUSEPORT workers."""

from __future__ import annotations

import multiprocessing
import signal
import sys
from types import FrameType

from aiohttp import web

from verify import logs
from verify.http.app import create_app
from verify.settings import Settings

SHUTDOWN_TIMEOUT_S = 10.0


def _run_worker(settings: Settings, host: str, port: int, reuse_port: bool) -> None:
    import uvloop

    logs.configure(settings.log_level)
    app = create_app(settings)
    uvloop.install()
    web.run_app(
        app,
        host=host,
        port=port,
        access_log=None,
        reuse_port=reuse_port,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        print=lambda msg: print(f"verify: listening on http://{host}:{port}", file=sys.stderr),
        handle_signals=True,
    )


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    if workers <= 1:
        _run_worker(settings, host, port, reuse_port=False)
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_run_worker, args=(settings, host, port, True), daemon=False)
        for _ in range(workers)
    ]
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
