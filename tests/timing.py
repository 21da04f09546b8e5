"""Time in tests: a clock a test moves by hand, and waiting for a condition instead of
for a fixed while.

A component that decides by the time (a cache's TTL, a breaker's open window, a rate
limit's refill, a saga's lease) takes a ``clock``; a test gives it a
:class:`ManualClock` and moves it, so it waits for nothing and cannot be late on a
busy machine. What happens on its own time (a refetch behind a read, a process
starting, a log line written by another thread) is awaited with :func:`poll_until`,
which returns as soon as it holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

#: how often a condition is looked at again
EVERY_S = 0.01
T = TypeVar("T")


class ManualClock:
    """Seconds that move only when the test says: ``clock()`` reads it, ``advance``
    moves it, and :meth:`sleep` (for a component that takes a ``sleep`` too) returns
    once it has been moved far enough. Starts at the real time unless told, so values
    stored with it look ordinary."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.sleeping = 0  # sleeps waiting for the clock to move
        self._moved: asyncio.Event | None = None

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        if self._moved is not None:
            self._moved.set()

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        self.sleeping += 1
        try:
            while self.now < until:
                self._moved = self._moved or asyncio.Event()
                self._moved.clear()
                await self._moved.wait()
        finally:
            self.sleeping -= 1


def poll_until(check: Callable[[], T | None], timeout_s: float = 10.0, what: str = "") -> T:
    """What ``check()`` gives as soon as it holds (is truthy); fail after ``timeout_s``
    saying ``what``."""
    deadline = time.monotonic() + timeout_s
    while not (held := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s}s: {what or check}")
        time.sleep(EVERY_S)
    return held


async def poll_until_async(
    check: Callable[[], object | Awaitable[object]], timeout_s: float = 10.0, what: str = ""
) -> None:
    """:func:`poll_until` for a test on the event loop (``check`` may be async): the
    loop keeps running what the test waits for."""
    deadline = time.monotonic() + timeout_s
    while True:
        held = check()
        if isinstance(held, Awaitable):
            held = await held
        if held:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s}s: {what or check}")
        await asyncio.sleep(EVERY_S)
