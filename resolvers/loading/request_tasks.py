"""The tasks a request starts beside its own, stopped with it.

A request's reads run in tasks of their own (a DataLoader's batch), so that one read
serves every resolver that asked for it. When the request
is stopped (its client has gone: ``gateway/http/client_gone.py``), the resolvers
waiting for those reads are cancelled, but the tasks would go on: a batch waiting for
one of the ERP's slots would still be sent when its turn came, for an answer nobody
reads, ahead of other clients' calls. So such a task is started in the request's
scope, and stopping the scope cancels its tasks, and any started after. (A call
already sent is not cut short: the guard lets it finish in its slot.)
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class RequestTasks:
    """The running tasks one request started beside its own."""

    __slots__ = ("_running", "stopped")

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()
        self.stopped = False

    def stop(self) -> None:
        """Cancel every task running, and each one started from now on."""
        self.stopped = True
        for task in list(self._running):
            task.cancel()

    def adopt(self, task: asyncio.Task[Any]) -> None:
        """``task`` is this request's: cancelled at once if the request has stopped."""
        if self.stopped:
            task.cancel()
            return
        self._running.add(task)
        task.add_done_callback(self._running.discard)


_current: contextvars.ContextVar[RequestTasks | None] = contextvars.ContextVar(
    "mosaic_request_tasks", default=None
)


@contextmanager
def scope() -> Iterator[RequestTasks]:
    """A request's scope: tasks started inside it (and in the tasks it starts) are its."""
    tasks = RequestTasks()
    token = _current.set(tasks)
    try:
        yield tasks
    finally:
        _current.reset(token)


def start(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """``coroutine`` as a task on ``loop``, the current request's if there is one."""
    task = loop.create_task(coroutine)
    tasks = _current.get()
    if tasks is not None:
        tasks.adopt(task)
    return task
