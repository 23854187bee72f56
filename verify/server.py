"""Serving: uvloop, no aiohttp access log (we write our own line), SO_REUSEPORT workers.

SIGTERM (or SIGINT) starts a graceful drain, in the order a load balancer needs:
``/readyz`` answers 503 at once while the API keeps serving for
``VERIFY_DRAIN_SECONDS``, so the balancer takes the pod out without a refused
request; streams end at their next line boundary, saying so. Then the server stops
accepting, closes idle keep-alive connections, waits up to ``SHUTDOWN_TIMEOUT_S`` for
the requests in flight, flushes the audit and closes the pools (aiohttp's runner
cleanup: ``on_shutdown``, then the cleanup contexts).

With ``workers > 1`` the parent spawns the workers and supervises them. Before
spawning it points ``PROMETHEUS_MULTIPROC_DIR`` at a wiped directory (the
operator's, or a temporary one removed at exit): spawned workers inherit the
variable before they import prometheus-client, which is what switches it to
multiprocess mode. When a worker exits, its live gauges are dropped
(``mark_process_dead``); its counters stay, so totals keep adding up.

The operations port (``/metrics``, ``/readyz``: verify/http/ops.py) is bound by
every worker with SO_REUSEPORT, like the API port. A scrape reaches one worker,
whose ``/metrics`` merges every worker's files, so one answer covers them all;
``/readyz`` is that worker's own background check (they share the database).
No process is special, so losing one worker loses neither port.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from aiohttp import web

from verify import gc_tuning, logs, native
from verify.bootstrap import create_app, pool_sampler
from verify.http.appkeys import DRAINING, STARTING
from verify.http.ops import serve_ops
from verify.metrics import MULTIPROC_ENV, Metrics, mark_process_dead, prepare_multiprocess_dir
from verify.service.ports import Audit
from verify.settings import Settings

SHUTDOWN_TIMEOUT_S = 10.0
# aiohttp's default listen backlog is 128: a burst of new connections beyond it (a flood,
# clients reconnecting together after a restart) has its handshakes dropped and retried by
# the kernel after 1, 2, 4 s, a wait no admission queue sees. The kernel caps it at
# net.core.somaxconn.
LISTEN_BACKLOG = 4096


async def _log_flusher(handler: logging.Handler, app: web.Application) -> AsyncIterator[None]:
    task = asyncio.get_running_loop().create_task(logs.flush_periodically(handler))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    handler.flush()


def _fixed_pid_metrics() -> None:
    """prometheus-client calls os.getpid() on every update to detect a fork; a spawned
    worker never forks, so its pid is read once (a syscall less per metric update)."""
    from prometheus_client import values

    pid = os.getpid()
    values.ValueClass = values.MultiProcessValue(process_identifier=lambda: pid)  # type: ignore[no-untyped-call]


async def _settle_gc(gen0: int, app: web.Application) -> None:
    """Objects made at startup leave the GC's view; young collections rarer (gc_tuning)."""
    gc_tuning.settle(gen0)


def _run_worker(
    settings: Settings,
    host: str,
    port: int,
    reuse_port: bool,
    metrics_dir: str | None,
    make_audit: Callable[[], Audit] | None = None,
) -> None:
    import uvloop

    handler = logs.configure(settings.log_level)
    if metrics_dir is not None:
        _fixed_pid_metrics()
    audit = make_audit() if make_audit is not None else None
    app = create_app(settings, metrics=Metrics(multiprocess_dir=metrics_dir), audit=audit)
    app.on_startup.append(functools.partial(_settle_gc, settings.gc_gen0))
    app.cleanup_ctx.append(pool_sampler)
    ops_host = settings.metrics_host or host
    app.cleanup_ctx.append(serve_ops(ops_host, settings.metrics_port, reuse_port=reuse_port))
    app.cleanup_ctx.append(functools.partial(_log_flusher, handler))
    uvloop.run(_serve_until_drained(app, host, port, reuse_port, settings.drain_s))


async def _serve_until_drained(
    app: web.Application, host: str, port: int, reuse_port: bool, drain_s: float
) -> None:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    app[STARTING].set()  # until the API port listens (the ops port opens in setup)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port, backlog=LISTEN_BACKLOG)
        await site.start()
        app[STARTING].clear()
        print(f"verify: listening on http://{host}:{port}", file=sys.stderr)  # ops: own site
        print(f"verify: {native.mode().line()}", file=sys.stderr)
        await stop.wait()
        stop.clear()
        app[DRAINING].set()  # readiness fails now; the API still answers
        print(f"verify: draining for {drain_s:g}s, then stopping", file=sys.stderr)
        with contextlib.suppress(TimeoutError):  # a second signal cuts the drain short
            await asyncio.wait_for(stop.wait(), drain_s)
    finally:
        await runner.cleanup()


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    reuse_port: bool = False,
    make_audit: Callable[[], Audit] | None = None,
) -> None:
    """Serve the API. One worker keeps its metrics in process (what a container runs);
    ``reuse_port`` lets several such instances share the port, as the bench's fleet does.
    ``make_audit`` (a top-level function: workers are spawned) replaces the audit writer;
    only the audit-cost benchmark uses it."""
    given = os.environ.get(MULTIPROC_ENV)
    if workers <= 1:
        if given:  # prometheus-client already writes there: start from empty files
            prepare_multiprocess_dir(given)
        _run_worker(settings, host, port, reuse_port, None, make_audit)
        return
    path, created = prepare_multiprocess_dir(given)
    os.environ[MULTIPROC_ENV] = path  # inherited by every spawned worker
    try:
        ctx = multiprocessing.get_context("spawn")
        procs = [
            ctx.Process(target=_run_worker, args=(settings, host, port, True, path, make_audit))
            for _ in range(workers)
        ]
        for proc in procs:
            proc.start()
        _supervise(procs, path)
    finally:
        if created:
            shutil.rmtree(path, ignore_errors=True)


def _supervise(procs: Sequence[BaseProcess], metrics_dir: str) -> None:
    """Forward SIGTERM/SIGINT to the workers; mark each worker dead as it exits."""

    def stop(signum: int, frame: FrameType | None) -> None:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    alive = {proc.sentinel: proc for proc in procs}
    while alive:
        for sentinel in wait(list(alive)):
            assert isinstance(sentinel, int)
            proc = alive.pop(sentinel)
            proc.join()
            if proc.pid is not None:
                mark_process_dead(proc.pid, metrics_dir)
            if proc.exitcode not in (0, -signal.SIGTERM):
                print(f"verify: worker {proc.pid} exited with {proc.exitcode}", file=sys.stderr)
