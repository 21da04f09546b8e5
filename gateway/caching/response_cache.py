"""Whole answers to catalogue queries, kept while every value they were built from is.

A category page asked by many shoppers at once is the same query with the same
variables, and the cross-request cache already answers every value in it without a
call. What is left is the gateway's own work: resolving and completing a few thousand
fields, again and again, for the same answer. So a query whose every value came
through that cache (found fresh there, or fetched and stored there for it) is kept as
its JSON, with the entries it was built from (their layer, key and the time each was
stored: :class:`adapters.cache.ReadLog`), and given again only while

- every one of those entries is still fresh by the freshness table, and
- every one is still the very entry in the store: a write that invalidated one of them
  (a reservation changing stock), a refetch or an eviction makes the answer unusable.

So an answer never outlives its freshest-bound value, and a write is seen by the next
query exactly as it would be without this layer: the answer is the one a new execution
would give. A hit near the end of that freshness starts refetching the entries due
(``refresh_ahead``), so an answer asked for all the time is rebuilt from new entries
before it expires rather than making its askers wait for the sources.

Only queries qualify, asked by the same caller (the whole principal and the
channel are part of the key, so nothing crosses roles, partners or channels), without
errors or deferred parts, and built from cache entries alone: personal data and orders
are live, never cached, so an answer holding any is never kept; nor is one where a
stale value stood in for a failing source.

Per worker, in memory, bounded by the size of the kept JSON (``response_cache_mb``).
The schema extension that consults it is ``gateway.caching.extensions.ResponseCaching``;
once a request's very bytes are known to lead to a kept answer, the HTTP layer answers
them before GraphQL runs at all (``gateway.caching.front_door``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from adapters.cache import Clock, ReadLog, SharedFetch

#: how many requests, by their bytes, are remembered as leading to a kept answer
REQUESTS_REMEMBERED = 10_000
#: how a kept body starts: the answer's ``data`` is the rest, less the closing brace
DATA_OPEN = b'{"data":'


@dataclass(slots=True)
class Answer:
    body: bytes  # the whole response, ``{"data": ...}``, encoded once
    reads: ReadLog  # the entries it was built from, when they stop being fresh
    refreshed: bool = False  # the refresh of those due has been started (once per answer)
    #: the cache stores' generations when its entries were last found unchanged: while
    #: they stand, nothing was written, so the entries need not be looked up again
    checked: tuple[int | None, ...] | None = None

    @property
    def data(self) -> orjson.Fragment:
        """The answer's ``data``, for a GraphQL result (the body less its wrapper)."""
        return orjson.Fragment(self.body[len(DATA_OPEN) : -1])

    @property
    def size(self) -> int:
        return len(self.body)


class ResponseCache:
    """The kept answers of one worker, least recently used first out.

    When a kept answer has expired or a value under it changed, every client asking
    for it at that moment would run the query again, each a full resolution (at 64
    concurrent clients of one stock check, half a second of CPU at once). So the first
    to find it gone runs the query and the others wait for its answer: the response's
    single flight, as the cross-request cache has one for each upstream read.
    """

    def __init__(
        self,
        max_bytes: int,
        layers: Mapping[str, SharedFetch[Any, Any]],
        clock: Clock = time.time,
    ) -> None:
        self.max_bytes = max_bytes
        self.clock = clock  # the cache layers' clock: an answer is as fresh as its entries
        self._layers = layers
        self._answers: OrderedDict[Hashable, Answer] = OrderedDict()
        self._renewing: dict[Hashable, asyncio.Future[Answer | None]] = {}
        #: a request, by its bytes and its caller (``front_door.request_key``), and the
        #: key of the answer it was given, with the name of its operation
        self._requests: OrderedDict[Hashable, tuple[Hashable, str]] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.door_hits = 0  # of the hits, those given at the front door

    @property
    def entries(self) -> int:
        return len(self._answers)

    async def get(self, key: Hashable, now: float) -> Answer | None:
        """The kept answer if it still holds. None when this request must run the
        query: then it must call :meth:`ran` when done, kept answer or not."""
        answer = self._answers.get(key)
        if answer is not None and await self._holds(key, answer, now):
            return answer
        renewing = self._renewing.get(key)
        if renewing is not None:  # another request is running it again: its answer
            renewed = await asyncio.shield(renewing)
            if renewed is not None:
                self.hits += 1
                return renewed
        elif answer is not None:  # this request renews it; the others wait for it
            self._forget(key, answer)
            self._renewing[key] = asyncio.get_running_loop().create_future()
        self.misses += 1
        return None

    async def for_request(self, request: Hashable, now: float) -> tuple[Answer, str] | None:
        """The kept answer a request with these very bytes was given last time, and its
        operation's name, if that answer still holds; None sends the request the usual
        way (which renews an answer that no longer holds, once for all its askers)."""
        known = self._requests.get(request)
        if known is None:
            return None
        key, operation = known
        answer = self._answers.get(key)
        if answer is None or not await self._holds(key, answer, now):
            return None
        self._requests.move_to_end(request)
        self.door_hits += 1
        return answer, operation

    def remember(self, request: Hashable, key: Hashable, operation: str) -> None:
        """A request with these bytes was answered with the answer kept under ``key``."""
        self._requests[request] = (key, operation)
        self._requests.move_to_end(request)
        if len(self._requests) > REQUESTS_REMEMBERED:
            self._requests.popitem(last=False)

    async def _holds(self, key: Hashable, answer: Answer, now: float) -> bool:
        """Whether ``answer`` may still be given (fresh, every entry under it unchanged);
        counts the hit, and starts refreshing its entries when they are nearly due."""
        if answer.reads.fresh_until <= now or not await self._unchanged(answer):
            return False
        if self._answers.get(key) is answer:
            self._answers.move_to_end(key)
        if answer.reads.refresh_from <= now and not answer.refreshed:
            self._refresh(answer)
        self.hits += 1
        return True

    def ran(self, key: Hashable, data: dict[str, Any] | None, log: ReadLog | None) -> Answer | None:
        """A run of the query ended; ``data`` and ``log`` are given when its answer was
        built from the cache alone. The requests waiting for this run get that answer;
        later ones only while it is fresh (a value under it may have expired during
        the run, one of another layer stored a little earlier than the rest). Returns
        that answer (None when there is none), kept or not."""
        answer = None
        if data is not None and log is not None:
            answer = Answer(orjson.dumps({"data": data}), log)
            if log.fresh_until > self.clock() and answer.size <= self.max_bytes:
                self._keep(key, answer)
        renewing = self._renewing.pop(key, None)
        if renewing is not None and not renewing.done():
            renewing.set_result(answer)
        return answer

    def _keep(self, key: Hashable, answer: Answer) -> None:
        old = self._answers.get(key)
        if old is not None:
            self._forget(key, old)
        self._answers[key] = answer
        self.bytes += answer.size
        while self.bytes > self.max_bytes:
            first = next(iter(self._answers))
            self._forget(first, self._answers[first])

    def _refresh(self, answer: Answer) -> None:
        """Start refetching the entries under a kept answer that are near the end of
        their freshness. The answer keeps being given while they are fetched; once
        they are stored it no longer matches them, and the next request builds the
        new answer from the new entries, waiting for CPU only, not for a source."""
        answer.refreshed = True
        for name, stored in answer.reads.stored.items():
            keys = answer.reads.keys[name]
            self._layers[name].refresh((keys[stored_key], at) for stored_key, at in stored.items())

    async def _unchanged(self, answer: Answer) -> bool:
        """Each entry under ``answer`` is still the one it was built from. Looked up
        again only when a store it lives in has been written since the last look (a
        store that cannot tell, shared Redis, is looked up every time)."""
        layers = [self._layers[name] for name in answer.reads.stored]
        generations = tuple(layer.generation for layer in layers)
        if answer.checked == generations and None not in generations:
            return True
        stored = answer.reads.stored.values()
        checks = [layer.unchanged(keys) for layer, keys in zip(layers, stored, strict=True)]
        if not all(await asyncio.gather(*checks)):
            return False
        answer.checked = generations  # as they stood before the look: a write since counts
        return True

    def _forget(self, key: Hashable, answer: Answer) -> None:
        """Drop ``answer`` if it is still the one kept under ``key`` (a concurrent
        request may have dropped or replaced it while this one was checking)."""
        if self._answers.get(key) is answer:
            del self._answers[key]
            self.bytes -= answer.size
