"""A small asyncio TCP proxy for failure tests (toxiproxy is not installable here).

``stall()`` stops forwarding bytes in both directions without closing anything
(a hung server, a black-holed network); ``resume()`` forwards again;
``cut()`` closes every proxied connection (new ones are still accepted);
``slow(seconds)`` holds every chunk that long before forwarding it (a slow network
or an overloaded server), ``slow(0)`` ends that.
"""

from __future__ import annotations

import asyncio
import contextlib

_CHUNK = 65536


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, connect_timeout: float = 2.0) -> None:
        self._target = (target_host, target_port)
        self._connect_timeout = connect_timeout
        self._forwarding = asyncio.Event()
        self._forwarding.set()
        self._delay = 0.0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    def stall(self) -> None:
        self._forwarding.clear()

    def resume(self) -> None:
        self._forwarding.set()

    def slow(self, seconds: float) -> None:
        self._delay = seconds

    def cut(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            async with asyncio.timeout(self._connect_timeout):
                up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pump(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await src.read(_CHUNK):
                await self._forwarding.wait()
                if self._delay:
                    await asyncio.sleep(self._delay)  # the injected latency itself
                dst.write(data)
                await dst.drain()
        dst.close()
        self._writers.discard(dst)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
