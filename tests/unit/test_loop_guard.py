"""The suite's loop guard (tests/support/loop_guard.py) fails the test that leaves an error
behind, and names it: run on small test files in a pytest subprocess of their own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
filterwarnings = error
"""

TESTS = """
import asyncio, gc, socket

import pytest
import uvloop

from tests.support.loop_guard import expect_loop_errors

async def fail() -> None:
    raise ValueError("nobody awaits me")

async def test_runs_on_uvloop() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)

async def test_leaks_a_failing_task() -> None:
    task = asyncio.create_task(fail())
    await asyncio.sleep(0)  # one tick: the task or callback runs and fails
    del task
    gc.collect()

async def test_keeps_a_failed_task_alive() -> None:
    keep = asyncio.create_task(fail())
    await asyncio.sleep(0)  # one tick: the task or callback runs and fails
    test_keeps_a_failed_task_alive.keep = keep  # never collected, never awaited

async def test_fails_in_a_callback() -> None:
    asyncio.get_running_loop().call_soon(lambda: 1 / 0)
    await asyncio.sleep(0)  # one tick: the task or callback runs and fails

async def test_awaits_its_failing_task() -> None:
    with pytest.raises(ValueError):
        await asyncio.create_task(fail())

async def test_expects_an_error() -> None:
    expect_loop_errors()
    asyncio.get_running_loop().call_soon(lambda: 1 / 0)
    await asyncio.sleep(0)  # one tick: the task or callback runs and fails

async def test_clean() -> None:
    await asyncio.sleep(0)
"""

LEAK = """
import asyncio, socket

SERVER = socket.create_server(("127.0.0.1", 0))
KEEP = []

async def test_leaves_a_connection_open() -> None:
    KEEP.append(await asyncio.open_connection(*SERVER.getsockname()))

async def test_after() -> None:
    await asyncio.sleep(0)
"""


@pytest.fixture
def guarded(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytest project with the suite's configuration and loop guard, nothing else."""
    pytester.makeini(INI)
    pytester.makeconftest('pytest_plugins = ["tests.support.loop_guard"]\n')
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    monkeypatch.setenv("PYTHONPATH", path)
    # not this run's options: its --basetemp would be emptied by the inner run
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("VERIFY_TEST_LOOP", raising=False)  # the default loop, uvloop
    return pytester


def _run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(test_guarded=source)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)


def test_a_task_error_left_behind_fails_the_test_that_left_it(guarded: pytest.Pytester) -> None:
    result = _run(guarded, TESTS)
    result.assert_outcomes(passed=7, errors=3)
    out = result.stdout.str()
    for name in ("leaks_a_failing_task", "keeps_a_failed_task_alive", "fails_in_a_callback"):
        assert f"ERROR at teardown of test_{name}" in out
    result.stdout.fnmatch_lines(
        [
            "*test_leaks_a_failing_task left errors behind on the event loop:",
            "*Task exception was never retrieved: ValueError('nobody awaits me')*",
            "*test_keeps_a_failed_task_alive left errors behind on the event loop:",
            "*task failed, its exception never retrieved: ValueError('nobody awaits me')*",
            "*test_fails_in_a_callback left errors behind on the event loop:",
            "*Exception in callback*ZeroDivisionError*",
        ],
        consecutive=False,
    )
    for name in ("awaits_its_failing_task", "expects_an_error", "clean", "runs_on_uvloop"):
        assert f"teardown of test_{name}" not in out


def test_a_connection_left_open_fails_the_test_and_the_loop_closes(
    guarded: pytest.Pytester,
) -> None:
    """Before the guard, uvloop's close() hung here for good under filterwarnings=error."""
    result = _run(guarded, LEAK)
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*test_leaves_a_connection_open left errors behind on the event loop:",
            "*left open: connection to ('127.0.0.1', *) (StreamReaderProtocol)",
            "*ERROR at teardown of test_after*",
            "*LeftOpenAtClose: the event loop closed with 1 handle(s) open*TCPTransport*",
        ],
        consecutive=False,
    )
