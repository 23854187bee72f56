"""Per-request time limits sharing one timer.

``asyncio.timeout`` arms a timer per request (a libuv timer under uvloop: a
handle made, started, stopped and freed) and reschedules it on exit. Every API
request has the same limit (``VERIFY_REQUEST_TIMEOUT``), so their deadlines fall
in the order the requests started: one queue in that order and one timer, set for
the oldest request still running, hold them all. A request costs an append and a
flag; the timer fires about once per limit, not once per request.

The semantics are those of ``asyncio.timeout``: when a request's time is up its
task is cancelled, and the caller turns that cancellation (and only that one:
``Deadline.timed_out``) into a ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Deadline:
    __slots__ = ("cancelling", "expired", "task", "when")

    def __init__(self, when: float, task: asyncio.Task[object]) -> None:
        self.when = when
        self.task: asyncio.Task[object] | None = task  # None once the request is done
        self.cancelling = task.cancelling()
        self.expired = False

    def timed_out(self) -> bool:
        """After a CancelledError: True if this deadline caused it (the cancellation is then
        consumed, as ``asyncio.timeout`` does), False if it came from elsewhere."""
        task = asyncio.current_task()
        return self.expired and task is not None and task.uncancel() <= self.cancelling


class Deadlines:
    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self._queue: deque[Deadline] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def start(self) -> Deadline:
        """The deadline of the current task, ``limit_s`` from now; ``done`` it when it ends."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None, "a deadline bounds a task"
        deadline = Deadline(loop.time() + self.limit_s, task)
        self._queue.append(deadline)
        if self._timer is None:
            self._timer = loop.call_at(deadline.when, self._expire)
        return deadline

    def done(self, deadline: Deadline) -> None:
        deadline.task = None  # the request and its task are not kept alive until the timer
        queue = self._queue
        while queue and queue[0].task is None:  # most requests end in the order they began
            queue.popleft()

    def _expire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        queue = self._queue
        while queue and (queue[0].task is None or queue[0].when <= now):
            deadline = queue.popleft()
            task = deadline.task
            if task is not None and not task.done():
                deadline.expired = True
                deadline.task = None
                task.cancel()
        if queue:
            self._timer = loop.call_at(queue[0].when, self._expire)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
