"""The tests' event loop: uvloop, as `verify serve` runs, watched for what asyncio only logs.

A pytest plugin (tests/conftest.py loads it). pytest-asyncio makes its loops through the
event loop policy; the policy here makes uvloop loops that report, as an error at the
teardown of the test during which it happened:

- what reached the loop's exception handler: a task that died with nobody awaiting it
  ("Task exception was never retrieved"), an exception in a callback or a protocol;
- a task the test created that failed and whose exception nobody retrieved, while the task
  is still alive (asyncio reports it only when the task is garbage collected, which for a
  task caught in a reference cycle can be tests later, or never);
- a connection, server or subprocess transport the test opened and left open.

Why the last one: uvloop's ``loop.close()`` warns (ResourceWarning) about each handle still
open, closes it, then runs libuv until nothing is active. Under ``filterwarnings = error``
that warning raises inside a Cython callback that cannot raise: it is printed as
"Exception ignored", the handle is never closed, and ``close()`` waits in epoll_wait forever
(pytest-dev/pytest#11454, pytest-dev/pytest-asyncio#1134). That was the hang of the session's
uvloop loop. This loop closes with those warnings recorded instead, closes every handle, and
fails the run naming what was left open.
"""

from __future__ import annotations

import asyncio
import os
import warnings
import weakref
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
import uvloop

OUTSIDE = "(between tests)"
T = TypeVar("T")


class LeftOpenAtClose(Exception):
    """The loop was closed with handles still open (uvloop closed them)."""


@dataclass
class _Opened:
    test: str
    what: str
    still_open: Callable[[], bool]


@dataclass
class LoopWatch:
    """What the loops saw during the current test."""

    test: str = OUTSIDE
    expected: bool = False
    problems: list[str] = field(default_factory=list)
    _owners: weakref.WeakKeyDictionary[asyncio.Future[Any], str] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    _opened: list[_Opened] = field(default_factory=list)
    _reported: list[_Opened] = field(default_factory=list)  # left open, said so already

    def begin(self, test: str) -> None:
        self.test, self.expected, self.problems = test, False, []

    def on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        owner = None
        if isinstance(future := context.get("future"), asyncio.Future):
            owner = self._owners.pop(future, None)
        self.problems.append(_describe(context, owner))
        loop.default_exception_handler(context)  # still logged, with its traceback

    def task_factory(
        self,
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
        **kwargs: Any,
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        self._owners[task] = self.test
        return task

    def opened(self, what: str, still_open: Callable[[], bool]) -> None:
        self._opened.append(_Opened(self.test, what, still_open))

    def finish(self) -> tuple[list[str], list[str]]:
        """This test's errors and what it left open; forgets them and its finished tasks."""
        errors = self.problems
        for task, owner in list(self._owners.items()):
            if owner != self.test or not task.done():
                continue
            del self._owners[task]
            # _log_traceback: asyncio's own flag, set while a failed task's exception was never
            # retrieved; exception() retrieves it, so asyncio does not report it a second time
            if not task.cancelled() and task._log_traceback:
                context = {"message": "task failed, its exception never retrieved"}
                errors.append(_describe(context | {"exception": task.exception(), "future": task}))
        left, kept = [], []
        for item in self._opened:
            if item.test != self.test:
                kept.append(item)
            elif item.still_open():
                left.append(item.what)
                self._reported.append(item)
        self._opened = kept
        self.begin(OUTSIDE)
        return errors, left

    def still_open(self) -> list[str]:
        opened = self._opened + self._reported
        return [f"{o.what} (opened by {o.test})" for o in opened if o.still_open()]


WATCH = LoopWatch()


def _describe(context: dict[str, Any], owner: str | None = None) -> str:
    text = f"{context.get('message')}: {context.get('exception')!r}"
    if (future := context.get("future")) is not None:
        text += f" in {future!r}"
    if owner is not None and owner != WATCH.test:
        text += f" (a task created by {owner})"
    return text


def _note(what: str, pair: Any) -> Any:
    """Notes a (transport, protocol) pair the loop opened; returns it."""
    transport, protocol = pair
    where = transport.get_extra_info("peername") or transport.get_extra_info("sockname")
    label = f"{what} {where} ({type(protocol).__qualname__})"
    WATCH.opened(label, lambda: not transport.is_closing())
    return pair


class _Watching(asyncio.AbstractEventLoop):
    """A loop that notes what it opens, and whose ``close()`` cannot hang on a leak.

    (uvloop's stubs type these methods' transports as protocols: hence ``Any``.)"""

    async def create_connection(self, *args: Any, **kwargs: Any) -> Any:
        return _note("connection to", await super().create_connection(*args, **kwargs))

    async def create_unix_connection(self, *args: Any, **kwargs: Any) -> Any:
        return _note("unix connection to", await super().create_unix_connection(*args, **kwargs))

    async def subprocess_exec(self, *args: Any, **kwargs: Any) -> Any:
        return _note(f"subprocess {args[1:2]}", await super().subprocess_exec(*args, **kwargs))

    async def create_server(self, *args: Any, **kwargs: Any) -> Any:
        server = await super().create_server(*args, **kwargs)
        names = [s.getsockname() for s in getattr(server, "sockets", ())]
        WATCH.opened(f"server on {names}", server.is_serving)
        return server

    def close(self) -> None:
        if self.is_closed():
            return
        known = WATCH.still_open()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            super().close()
        left = []
        for w in caught:
            if issubclass(w.category, ResourceWarning):
                left.append(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if left:
            raise LeftOpenAtClose(
                f"the event loop closed with {len(left)} handle(s) open: {left}; "
                f"opened and not closed: {known or 'none of the ones tracked'}"
            )


# uvloop's stubs differ from typeshed's AbstractEventLoop on a few signatures
class WatchedLoop(_Watching, uvloop.Loop):  # type: ignore[misc]
    """uvloop, watched: the loop of every test."""


class WatchedAsyncioLoop(_Watching, asyncio.SelectorEventLoop):
    """asyncio's own loop, watched: with VERIFY_TEST_LOOP=asyncio, to tell a uvloop-only
    failure from a real one, or compare the two loops' run times."""


def new_watched_loop() -> asyncio.AbstractEventLoop:
    asyncio_loop = os.environ.get("VERIFY_TEST_LOOP", "uvloop") == "asyncio"
    loop = WatchedAsyncioLoop() if asyncio_loop else WatchedLoop()
    loop.set_exception_handler(WATCH.on_loop_error)
    loop.set_task_factory(WATCH.task_factory)
    return loop


class WatchedLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """pytest-asyncio's runners (and asyncio.run) make their loops here."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return new_watched_loop()


def expect_loop_errors() -> None:
    """For a test that kills a server on purpose: its clients' tasks may die unobserved.
    Their errors are logged, not failed on; connections left open still fail the test."""
    WATCH.expected = True


@pytest.fixture
def loop_errors_expected() -> None:
    """:func:`expect_loop_errors` for the whole test."""
    expect_loop_errors()


_UVLOOP_RUN = uvloop.run


def _watched_run(main: Coroutine[Any, Any, T], *, debug: bool | None = None, **_: Any) -> T:
    """uvloop.run on a watched loop (its loop_factory, if given, is not used)."""
    with asyncio.Runner(loop_factory=new_watched_loop, debug=debug) as runner:
        return runner.run(main)


def pytest_configure(config: pytest.Config) -> None:
    with warnings.catch_warnings():  # the policy API is deprecated from 3.14, not gone
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop_policy(WatchedLoopPolicy())
    # the CLI's commands, called in-process by tests, run on uvloop.run's own loops
    uvloop.run = _watched_run


def pytest_unconfigure(config: pytest.Config) -> None:
    uvloop.run = _UVLOOP_RUN


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    WATCH.begin(item.nodeid)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        expected = WATCH.expected
        errors, left = WATCH.finish()
        found = ([] if expected else errors) + [f"left open: {what}" for what in left]
        if found:
            pytest.fail(
                f"{item.nodeid} left errors behind on the event loop:\n  " + "\n  ".join(found),
                pytrace=False,
            )
