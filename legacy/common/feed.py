"""A simulated system's change feed: what changed, numbered in order, for clients that
follow it with a long poll.

Real systems tell others about changes with webhooks (Square's
``inventory.count.updated``) or a change feed. A long-polled feed is what the gateway
follows here: it needs no public endpoint of the gateway's own, it survives a gateway
restart (a client resumes from the last number it saw), and an event reaches a waiting
client as soon as it is published, so a change is seen in milliseconds, not at the next
poll interval.

The feed keeps the last ``keep`` events in memory: a client that falls further behind
than that misses the oldest (the reads are live, so it only misses a notification).
Each app has one feed, shared by every server thread that runs the app: a waiting
request is woken on its own event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

from starlette.requests import Request

Event = dict[str, Any]
T = TypeVar("T")


class ChangeFeed:
    def __init__(self, keep: int = 10_000) -> None:
        self._events: deque[tuple[int, Event]] = deque(maxlen=keep)
        self._numbers = itertools.count(1)
        self._last = 0
        self._waiters: set[asyncio.Future[None]] = set()
        self._lock = threading.RLock()

    @property
    def last(self) -> int:
        """The number of the latest event (0 before the first)."""
        return self._last

    def publish(self, events: Iterable[Event]) -> None:
        """Append events (after the change they tell of is committed) and wake waiters."""
        with self._lock:
            for event in events:
                self._last = next(self._numbers)
                self._events.append((self._last, event))
            waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            waiter.get_loop().call_soon_threadsafe(_wake, waiter)

    def after(self, number: int, limit: int) -> list[tuple[int, Event]]:
        """Up to ``limit`` events numbered above ``number``, oldest first."""
        with self._lock:
            return list(itertools.islice((e for e in self._events if e[0] > number), limit))

    async def wait_after(self, number: int, limit: int, wait_s: float) -> list[tuple[int, Event]]:
        """Events after ``number``; when there are none yet, wait up to ``wait_s`` for one."""
        found = self.after(number, limit)
        if found or wait_s <= 0:
            return found
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            if self._last > number:  # published between the look and the wait
                return self.after(number, limit)
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, wait_s)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(waiter)
        return self.after(number, limit)


async def while_connected(request: Request, work: Awaitable[T]) -> T | None:
    """What ``work`` answers, or None when the client hangs up first: a follower that
    stopped must not leave its long poll waiting on the server until it times out."""
    task = asyncio.ensure_future(work)

    async def hung_up() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(hung_up())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, watcher):
            if not pending.done():
                pending.cancel()
        await asyncio.gather(task, watcher, return_exceptions=True)
    return task.result() if not task.cancelled() else None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def wait_seconds(value: Any, maximum: float = 30.0) -> float:
    """A client's ``wait_s``: how long a long poll may be held open, capped."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return min(max(seconds, 0.0), maximum)
