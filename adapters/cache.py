"""The cross-request layer in front of an adapter's batch method: a freshness-bounded
cache, single flight, and a short batching window shared by concurrent requests.

Per-request DataLoaders batch the keys of one request. This layer batches across
requests: keys that concurrent requests ask for within ``window_s`` share one upstream
call, a key already being fetched is never fetched twice at once (single flight), and a
value younger than its freshness TTL is served without a call at all. A value read in
the last ``refresh_ahead_s`` of its TTL is still served, and also refetched in the
background, so a key read all the time is renewed before it expires instead of making
every request that finds it expired wait for the source. When the source fails, a value
older than its TTL but within ``max_stale_s`` may stand in for it; the request is told,
with the value's age.

Each call may carry the request's :class:`Served`, its account of what its reads were
served from: the stale values that stood in (the gateway lists them in the response),
and, when asked for, a :class:`ReadLog` of the entries the answer was built from, so a
whole answer built only from cache entries can be kept and given again while each of
them is still the one in the store (``gateway/caching/response_cache.py``). The account
is passed in with the keys by the request's loaders, never found in ambient state: this
layer is shared by every request, and each call says whose it is.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from adapters.errors import UpstreamError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Marks a key the source answered "not found" for, so misses are cached too.
ABSENT: Any = object()
#: Failed refreshes remembered per layer before the memory is cleared (a bound, not a
#: tuning knob: a forgotten failure costs one more call, at most once per read).
REFRESH_FAILURES_KEPT = 10_000


#: the cache's clock: wall-clock seconds, as entries may be shared by replicas (Redis);
#: passed in, so tests move it instead of waiting out a TTL
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Entry:
    value: Any
    stored_at: float  # the clock's time when fetched from the source

    def age(self, now: float) -> float:
        return now - self.stored_at


@dataclass(frozen=True, slots=True)
class StaleNotice:
    """A cached value served in place of a failing source."""

    cache: str
    source: str
    code: str
    age_s: float


@dataclass(frozen=True, slots=True)
class Freshness:
    ttl_s: float  # served from cache without a call while younger than this; 0: live
    max_stale_s: float = 0.0  # may stand in for a failing source up to this age
    refresh_ahead_s: float = 0.0  # read this close to the TTL, also refetched (0: never)

    def refresh_at(self, stored_at: float) -> float:
        """When a read of an entry stored at ``stored_at`` starts refetching it."""
        return stored_at + self.ttl_s - self.refresh_ahead_s if self.refresh_ahead_s else math.inf


@dataclass(slots=True)
class ReadLog:
    """The cache entries one request was answered from, fresh or fetched and stored
    for it: per layer, each key (as stored, and as the layer takes it, to refresh it)
    with the time its entry was stored; the moment the first of them stops being fresh
    and the moment the first is due to be refreshed ahead. ``complete`` turns False when
    a value came from anything else (a read that is not cached at all, live data; a
    stale entry standing in for a failing source), so the log no longer tells the whole
    story of the answer."""

    stored: dict[str, dict[str, float]] = field(default_factory=dict)
    keys: dict[str, dict[str, Hashable]] = field(default_factory=dict)
    fresh_until: float = math.inf
    refresh_from: float = math.inf
    complete: bool = True

    def note(
        self,
        layer: str,
        entries: Mapping[str, tuple[Hashable, Entry]],
        freshness: Freshness,
        now: float,
    ) -> None:
        seen = self.stored.setdefault(layer, {})
        keys = self.keys.setdefault(layer, {})
        for stored_key, (key, entry) in entries.items():
            seen[stored_key] = entry.stored_at
            keys[stored_key] = key
            self.fresh_until = min(self.fresh_until, entry.stored_at + freshness.ttl_s)
            self.refresh_from = min(self.refresh_from, freshness.refresh_at(entry.stored_at))
        if self.fresh_until <= now:  # a stale entry stood in for a failing source
            self.complete = False


@dataclass(slots=True)
class Served:
    """One request's account of what its reads were served from, kept on the request's
    loaders and handed to every read they make: the cached values that stood in for a
    failing source (the response lists them), and the read log, when something (the
    response cache) asked for one by setting it."""

    stale: list[StaleNotice] = field(default_factory=list)
    log: ReadLog | None = None


class CacheStore(Protocol):
    """Where entries live: this process's memory, or Redis shared by replicas."""

    #: a number that changes whenever an entry is stored, deleted, expired or evicted;
    #: None when writes can come from elsewhere (other replicas) unseen
    @property
    def generation(self) -> int | None: ...

    async def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Entry]: ...

    async def set_many(
        self, namespace: str, entries: Mapping[str, Entry], keep_s: float
    ) -> None: ...

    async def delete(self, namespace: str, keys: Sequence[str]) -> None: ...


class MemoryStore:
    """An in-process LRU; the default, and what the embedded demo uses."""

    def __init__(self, max_entries: int = 100_000, clock: Clock = time.time) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[tuple[str, str], tuple[Entry, float]] = OrderedDict()
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    async def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, Entry]:
        now = self._clock()
        found: dict[str, Entry] = {}
        for key in keys:
            item = self._data.get((namespace, key))
            if item is None:
                continue
            entry, expires = item
            if expires < now:
                del self._data[(namespace, key)]
                self._generation += 1
                continue
            self._data.move_to_end((namespace, key))
            found[key] = entry
        return found

    async def set_many(self, namespace: str, entries: Mapping[str, Entry], keep_s: float) -> None:
        self._generation += 1  # evictions below included
        for key, entry in entries.items():
            self._data[(namespace, key)] = (entry, entry.stored_at + keep_s)
            self._data.move_to_end((namespace, key))
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    async def delete(self, namespace: str, keys: Sequence[str]) -> None:
        self._generation += 1
        for key in keys:
            self._data.pop((namespace, key), None)


class SharedFetch(Generic[K, V]):
    """One adapter batch method, shared by every request of this process."""

    def __init__(
        self,
        name: str,
        source: str,
        fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]],
        freshness: Freshness,
        store: CacheStore,
        window_s: float = 0.0,
        key_str: Callable[[K], str] = str,
        clock: Clock = time.time,
    ) -> None:
        self.name = name
        self.clock = clock
        self.source = source
        self._fetch = fetch
        self.freshness = freshness
        self._store = store
        self._window_s = window_s
        self._key_str = key_str
        self._in_flight: dict[K, asyncio.Future[Entry]] = {}
        self._pending: list[K] = []
        self._flush: asyncio.Handle | asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        #: key as stored -> when the entry stood stored whose refresh ahead failed; it is
        #: not tried again for that entry (the source is not asked once per read).
        self._refresh_failed: dict[str, float] = {}
        self.hits = 0
        self.misses = 0

    async def __call__(self, keys: Sequence[K], served: Served | None = None) -> dict[K, V]:
        """The values of ``keys`` found; ``served``, the asking request's account (none:
        nobody keeps one), learns what they were served from."""
        distinct = list(dict.fromkeys(keys))
        cached = await self._cached(distinct)
        now = self.clock()
        entries = {k: e for k, e in cached.items() if e.age(now) < self.freshness.ttl_s}
        self.hits += len(entries)
        self.refresh((k, e.stored_at) for k, e in entries.items())
        wanted = [k for k in distinct if k not in entries]
        self.misses += len(wanted)
        if wanted:
            outcomes = await asyncio.gather(
                *(self._join(k) for k in wanted), return_exceptions=True
            )
            try:
                for index, key in enumerate(wanted):
                    entries[key] = self._settle(key, outcomes[index], cached.get(key), served)
            finally:  # the failure raised holds this frame by its trace: held here, a cycle
                del outcomes
        log = served.log if served is not None else None
        if log is not None:
            if self.freshness.ttl_s > 0:  # every entry is in the store: fresh or fetched
                log.note(
                    self.name,
                    {self._key_str(k): (k, e) for k, e in entries.items()},
                    self.freshness,
                    self.clock(),
                )
            else:
                log.complete = False
        return {k: e.value for k, e in entries.items() if e.value is not ABSENT}

    def refresh(self, entries: Iterable[tuple[K, float]]) -> None:
        """Refetch in the background those of these keys whose entries (stored at the
        times given) are near the end of their freshness, unless a fetch of them is
        already under way or a refresh of that very entry failed. Started in a context
        of its own, so no request's deadline bounds it and none is charged for its call."""
        if not self.freshness.refresh_ahead_s:
            return
        now = self.clock()
        due = [
            (key, stored_at)
            for key, stored_at in entries
            if self.freshness.refresh_at(stored_at) <= now
            and key not in self._in_flight
            and self._refresh_failed.get(self._key_str(key)) != stored_at
        ]
        if due:
            contextvars.Context().run(self._start_refresh, due)

    def _start_refresh(self, due: list[tuple[K, float]]) -> None:
        for key, stored_at in due:
            self._future(key).add_done_callback(partial(self._refreshed, key, stored_at))

    def _refreshed(self, key: K, stored_at: float, future: asyncio.Future[Entry]) -> None:
        if future.cancelled() or future.exception() is not None:
            if len(self._refresh_failed) >= REFRESH_FAILURES_KEPT:
                self._refresh_failed.clear()
            self._refresh_failed[self._key_str(key)] = stored_at
        else:
            self._refresh_failed.pop(self._key_str(key), None)

    async def invalidate(self, keys: Sequence[K]) -> None:
        """Forget keys a write changed, so the next read goes to the source."""
        await self._store.delete(self.name, [self._key_str(k) for k in keys])

    @property
    def generation(self) -> int | None:
        """Its store's (:attr:`CacheStore.generation`)."""
        return self._store.generation

    async def unchanged(self, stored: Mapping[str, float]) -> bool:
        """Whether each key (as stored) still holds the entry stored at that time: not
        invalidated by a write, not refetched, not evicted."""
        found = await self._store.get_many(self.name, list(stored))
        return len(found) == len(stored) and all(
            found[key].stored_at == at for key, at in stored.items()
        )

    async def _cached(self, keys: list[K]) -> dict[K, Entry]:
        if self.freshness.ttl_s <= 0 and self.freshness.max_stale_s <= 0:
            return {}
        by_str = {self._key_str(k): k for k in keys}
        found = await self._store.get_many(self.name, list(by_str))
        return {by_str[s]: entry for s, entry in found.items()}

    def _settle(
        self, key: K, result: Entry | BaseException, cached: Entry | None, served: Served | None
    ) -> Entry:
        """The fetched entry, or the cached one standing in for a failing source."""
        if not isinstance(result, BaseException):
            return result
        age = cached.age(self.clock()) if cached is not None else math.inf
        if (
            isinstance(result, UpstreamError)
            and cached is not None
            and age < self.freshness.max_stale_s
        ):
            if served is not None:
                served.stale.append(StaleNotice(self.name, self.source, result.code, round(age, 1)))
            return cached
        try:
            raise result
        finally:  # kept here, it would hold the trace that holds this frame
            del result

    def _join(self, key: K) -> asyncio.Future[Entry]:
        """The key's in-flight fetch, or a place in the next batch (single flight).
        Shielded: one waiting request giving up must not cancel the others' fetch."""
        return asyncio.shield(self._future(key))

    def _future(self, key: K) -> asyncio.Future[Entry]:
        future = self._in_flight.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._in_flight[key] = future
            self._pending.append(key)
            if self._flush is None:
                loop = asyncio.get_running_loop()
                self._flush = (
                    loop.call_later(self._window_s, self._dispatch)
                    if self._window_s > 0
                    else loop.call_soon(self._dispatch)
                )
        return future

    def _dispatch(self) -> None:
        keys, self._pending, self._flush = self._pending, [], None
        task = asyncio.ensure_future(self._run(keys))
        self._tasks.add(task)  # held, so the loop's weak reference is not the only one
        task.add_done_callback(self._tasks.discard)

    async def _run(self, keys: list[K]) -> None:
        try:
            found = await self._fetch(keys)
        except BaseException as error:
            for key in keys:
                self._finish(key, error=error)
            if not isinstance(error, Exception):
                raise
            return
        now = self.clock()
        entries = {k: Entry(found.get(k, ABSENT), now) for k in keys}
        keep = self.freshness.ttl_s + self.freshness.max_stale_s
        if keep > 0:
            await self._store.set_many(
                self.name, {self._key_str(k): e for k, e in entries.items()}, keep
            )
        for key in keys:
            self._finish(key, entry=entries[key])

    def _finish(
        self, key: K, *, entry: Entry | None = None, error: BaseException | None = None
    ) -> None:
        future = self._in_flight.pop(key, None)
        if future is None or future.done():
            return
        if entry is not None:
            future.set_result(entry)
        elif error is not None:
            future.set_exception(error)
