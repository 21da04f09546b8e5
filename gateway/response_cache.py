"""Whole answers to catalogue queries, kept while every value they were built from is.

A category page asked by many shoppers at once is the same query with the same
variables, and the cross-request cache already answers every value in it without a
call. What is left is the gateway's own work: resolving and completing a few thousand
fields, again and again, for the same answer. So a query answered entirely from cached
entries is kept as its JSON, with the entries it was built from (their layer, key and
the time each was stored: :class:`adapters.cache.ReadLog`), and given again only while

- every one of those entries is still fresh by the freshness table, and
- every one is still the very entry in the store: a write that invalidated one of them
  (a reservation changing stock), a refetch or an eviction makes the answer unusable.

So an answer never outlives its freshest-bound value, and a write is seen by the next
query exactly as it would be without this layer: the answer is the one a new execution
would give. Only queries qualify, asked by the same caller (the whole principal and the
channel are part of the key, so nothing crosses roles, partners or channels), without
errors or deferred parts, and built from cached values alone: personal data and orders
are live, never cached, so an answer holding any is never kept.

Per worker, in memory, bounded by the size of the kept JSON (``response_cache_mb``).
The schema extension that consults it is ``gateway.extensions.ResponseCaching``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from adapters.cache import ReadLog, SharedFetch


@dataclass(frozen=True, slots=True)
class Answer:
    data: orjson.Fragment  # the answer's ``data``, encoded once
    size: int
    stored: dict[str, dict[str, float]]  # layer -> key -> when its entry was stored
    fresh_until: float  # time.time() after which one of those entries is stale


class ResponseCache:
    """The kept answers of one worker, least recently used first out."""

    def __init__(self, max_bytes: int, layers: Mapping[str, SharedFetch[Any, Any]]) -> None:
        self.max_bytes = max_bytes
        self._layers = layers
        self._answers: OrderedDict[Hashable, Answer] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    async def get(self, key: Hashable, now: float) -> Answer | None:
        answer = self._answers.get(key)
        if answer is not None and answer.fresh_until > now and await self._unchanged(answer):
            self._answers.move_to_end(key)
            self.hits += 1
            return answer
        if answer is not None:
            self._drop(key)
        self.misses += 1
        return None

    def keep(self, key: Hashable, data: dict[str, Any], log: ReadLog) -> None:
        encoded = orjson.dumps(data)
        if len(encoded) > self.max_bytes:
            return
        if key in self._answers:
            self._drop(key)
        self._answers[key] = Answer(
            orjson.Fragment(encoded), len(encoded), log.stored, log.fresh_until
        )
        self.bytes += len(encoded)
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._answers)))

    @property
    def entries(self) -> int:
        return len(self._answers)

    async def _unchanged(self, answer: Answer) -> bool:
        checks = [self._layers[name].unchanged(keys) for name, keys in answer.stored.items()]
        return all(await asyncio.gather(*checks))

    def _drop(self, key: Hashable) -> None:
        self.bytes -= self._answers.pop(key).size
