"""One load at a time per key, shared by every call that needs it while it runs.

What an adapter fetches once and keeps (a page's WSDL, an access token) is loaded by
the first call that finds it missing; calls arriving while that load runs wait for it
and share its outcome, a failure too. A lock would instead let each waiter load again,
one after another, once the first load failed: with the source down, a queue of calls
each asking in turn and holding a slot meanwhile. Keeping what was loaded is the
caller's part; a failed load is simply over, so the next call loads again. (The idea
is Go's ``singleflight``; ``adapters/cache.py`` does the same per key of a batch.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from functools import partial
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """The loads under way, by key."""

    def __init__(self) -> None:
        self._flights: dict[K, asyncio.Future[V]] = {}

    async def __call__(self, key: K, load: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """The outcome of the load under way for ``key``, or of ``load()`` started now."""
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(load())
            flight.add_done_callback(partial(self._landed, key))
            self._flights[key] = flight
        try:
            return await asyncio.shield(flight)  # a caller that gives up ends no one's load
        finally:  # it holds its failure, whose trace holds this frame
            del flight

    def _landed(self, key: K, flight: asyncio.Future[V]) -> None:
        del self._flights[key]
        if not flight.cancelled():
            flight.exception()  # seen, though every caller may have given up waiting
