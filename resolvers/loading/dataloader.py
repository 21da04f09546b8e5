"""A typed, generic DataLoader: the keys one round of resolvers asks for, read in one call.

Why our own, and not aiodataloader's or strawberry's: both answer ``load_many`` with
``asyncio.gather`` over one future per key, so a listing of 150 products paid for 150
done-callbacks, each scheduled on the loop and run in Python, plus gather's own future
per call, on every request. Here a batch settles its keys' futures and then, directly,
every ``load_many`` that waited on it: one callback per list, not per key (4-7 % less
CPU per cold request, bench/results/profile/cold-cpu.md, sixth pass).

The rules are the ones resolvers and the call-count tests rely on, unchanged:

- **Batching.** Keys asked for while a batch is forming join it; it is read two loop
  turns after its first key (as both libraries do), so loads made by the coroutines
  the first loads woke still join. ``batching=False`` reads every key on its own (the
  naive gateway the benchmark measures Mosaic against).
- **Caching.** A key is read once per loader (one request): a later load of it gets the
  same future, done or not. :meth:`prime` fills the cache without a read;
  :meth:`clear_all` empties it (after a write, so the next read sees it).
- **Failure.** A value that is an exception fails that key's future. A read that raises
  fails every key of its batch and caches none of them, so a later load asks again.
- **Cancellation.** A waiter cancelled (its request gone) cancels its key's future; the
  batch skips futures already done, the others still get their values, and a later
  load of that key asks again rather than inheriting the cancellation. A batch is a
  task of the request's (:mod:`resolvers.loading.request_tasks`): a request stopped
  stops its batches, and a read not sent yet never is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Generic, TypeVar

from resolvers.loading import request_tasks

K = TypeVar("K")
V = TypeVar("V")

#: the batch read: the keys, in the order first asked, to one value (or exception) each
BatchRead = Callable[[list[K]], Awaitable[Sequence[V | BaseException]]]


class _Batch(Generic[K, V]):
    """The keys of one read and their futures; ``joins``: the lists waiting on it."""

    __slots__ = ("futures", "joins", "keys")

    def __init__(self) -> None:
        self.keys: list[K] = []
        self.futures: list[asyncio.Future[V]] = []
        self.joins: list[_Join[V]] = []


class _Join(Generic[V]):
    """One ``load_many``: its keys' futures, and how many batches it still waits for."""

    __slots__ = ("futures", "result", "waiting")

    def __init__(self, futures: list[asyncio.Future[V]], result: asyncio.Future[list[V]]):
        self.futures, self.result, self.waiting = futures, result, 0

    def settle(self) -> None:
        """The values in key order, or the first failure among them."""
        if self.result.done():  # its waiter is gone
            return
        if any(future.cancelled() for future in self.futures):
            self.result.cancel()
            return
        # every failure is looked at, so none is logged as never retrieved
        errors = [error for future in self.futures if (error := future.exception())]
        if errors:
            self.result.set_exception(errors[0])
        else:
            self.result.set_result([future.result() for future in self.futures])


class DataLoader(Generic[K, V]):
    """Per-request batching and caching of one read (see the module's rules)."""

    __slots__ = ("_batching", "_cache", "_forming", "_in_flight", "_loop", "_read")

    def __init__(self, read: BatchRead[K, V], *, batching: bool = True) -> None:
        self._read = read
        self._batching = batching
        self._loop = asyncio.get_running_loop()  # made per request, inside it
        self._cache: dict[K, asyncio.Future[V]] = {}
        #: the batch new keys join; None until a key is asked for after the last read
        self._forming: _Batch[K, V] | None = None
        #: the batch each asked key not yet answered is in
        self._in_flight: dict[K, _Batch[K, V]] = {}

    def load(self, key: K) -> asyncio.Future[V]:
        """The future of ``key``'s value: cached, or joining the batch being formed."""
        future = self._cache.get(key)
        if future is not None and not future.cancelled():
            return future
        future = self._loop.create_future()
        self._cache[key] = future
        batch = self._forming
        if batch is None:
            batch = _Batch()
            if self._batching:
                self._forming = batch
                # two turns, as aiodataloader and strawberry take: what the first
                # loads' coroutines ask for when they wake still joins
                self._loop.call_soon(self._loop.call_soon, self._dispatch, batch)
        batch.keys.append(key)
        batch.futures.append(future)
        self._in_flight[key] = batch
        if not self._batching:
            self._dispatch(batch)
        return future

    def load_many(self, keys: Iterable[K]) -> asyncio.Future[list[V]]:
        """The values of ``keys`` in their order, as one future: done at once when all
        are cached, else when the last batch holding one of them has been read."""
        futures: list[asyncio.Future[V]] = []
        waits: dict[int, _Batch[K, V]] = {}
        for key in keys:
            future = self.load(key)
            futures.append(future)
            if not future.done() and (batch := self._in_flight.get(key)) is not None:
                waits[id(batch)] = batch
        join = _Join(futures, self._loop.create_future())
        join.waiting = len(waits)
        for batch in waits.values():
            batch.joins.append(join)
        if not waits:
            join.settle()
        return join.result

    def prime(self, key: K, value: V) -> None:
        """Cache ``value`` for ``key`` without a read, unless the key is already asked."""
        if key not in self._cache:
            future = self._loop.create_future()
            future.set_result(value)
            self._cache[key] = future

    def clear_all(self) -> None:
        """Forget every value: the next load of any key reads it again."""
        self._cache.clear()

    def _dispatch(self, batch: _Batch[K, V]) -> None:
        """Close ``batch`` to new keys and start its read."""
        if self._forming is batch:
            self._forming = None
        request_tasks.start(self._loop, self._run(batch))

    async def _run(self, batch: _Batch[K, V]) -> None:
        """Read the batch and settle its keys, then the lists waiting on it."""
        try:
            values = await self._read(batch.keys)
            if len(values) != len(batch.keys):
                raise ValueError(f"a read gave {len(values)} values for {len(batch.keys)} keys")
        except asyncio.CancelledError:  # the request stopped, or the loop is closing:
            # nobody waits for an answer
            self._land(batch, None)
            raise
        except Exception as error:  # every waiter gets it, and none is cached
            for key, future in zip(batch.keys, batch.futures, strict=True):
                if self._cache.get(key) is future:
                    del self._cache[key]
            values = [error] * len(batch.keys)
        self._land(batch, values)

    def _land(self, batch: _Batch[K, V], values: Sequence[V | BaseException] | None) -> None:
        """Settle the batch's futures with ``values`` (None: cancel them), then the
        lists that waited on it."""
        for index, (key, future) in enumerate(zip(batch.keys, batch.futures, strict=True)):
            if self._in_flight.get(key) is batch:
                del self._in_flight[key]
            if future.done():
                continue
            if values is None:
                future.cancel()
                continue
            value = values[index]
            if isinstance(value, BaseException):
                future.set_exception(value)
            else:
                future.set_result(value)
        for join in batch.joins:
            join.waiting -= 1
            if join.waiting == 0:
                join.settle()
