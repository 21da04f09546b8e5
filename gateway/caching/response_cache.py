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
The schema extension that consults it is ``gateway.caching.extensions.ResponseCaching``.
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


@dataclass(slots=True)
class Answer:
    data: orjson.Fragment  # the answer's ``data``, encoded once
    size: int
    reads: ReadLog  # the entries it was built from, when they stop being fresh
    refreshed: bool = False  # the refresh of those due has been started (once per answer)


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
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def entries(self) -> int:
        return len(self._answers)

    async def get(self, key: Hashable, now: float) -> Answer | None:
        """The kept answer if it still holds. None when this request must run the
        query: then it must call :meth:`ran` when done, kept answer or not."""
        answer = self._answers.get(key)
        if answer is not None and answer.reads.fresh_until > now and await self._unchanged(answer):
            if self._answers.get(key) is answer:
                self._answers.move_to_end(key)
            if answer.reads.refresh_from <= now and not answer.refreshed:
                self._refresh(answer)
            self.hits += 1
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

    def ran(self, key: Hashable, data: dict[str, Any] | None, log: ReadLog | None) -> None:
        """A run of the query ended; ``data`` and ``log`` are given when its answer was
        built from the cache alone. The requests waiting for this run get that answer;
        later ones only while it is fresh (a value under it may have expired during
        the run, one of another layer stored a little earlier than the rest)."""
        answer = None
        if data is not None and log is not None:
            encoded = orjson.dumps(data)
            answer = Answer(orjson.Fragment(encoded), len(encoded), log)
            if log.fresh_until > self.clock() and answer.size <= self.max_bytes:
                self._keep(key, answer)
        renewing = self._renewing.pop(key, None)
        if renewing is not None and not renewing.done():
            renewing.set_result(answer)

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
        checks = [self._layers[name].unchanged(keys) for name, keys in answer.reads.stored.items()]
        return all(await asyncio.gather(*checks))

    def _forget(self, key: Hashable, answer: Answer) -> None:
        """Drop ``answer`` if it is still the one kept under ``key`` (a concurrent
        request may have dropped or replaced it while this one was checking)."""
        if self._answers.get(key) is answer:
            del self._answers[key]
            self.bytes -= answer.size
