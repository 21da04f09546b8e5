"""Splitting a batch of keys into the calls a source accepts."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

#: Keys in the chunk whose upstream call is being made (0 outside a batch), so the
#: source's guard can report batch sizes without every adapter passing them along.
#: Ambient on purpose, unlike a request's account of its reads (``adapters.cache.Served``,
#: passed in): it is set and read inside one chunk's own task, never carried back up to
#: the request, and only labels what the guard's observers see.
chunk_keys: contextvars.ContextVar[int] = contextvars.ContextVar("mosaic_chunk_keys", default=0)


def unique(keys: Iterable[K]) -> list[K]:
    """The keys once each, in first-seen order (so calls are deterministic)."""
    return list(dict.fromkeys(keys))


def grouped(
    asked: Iterable[K], records: Iterable[R], key: Callable[[R], K | None]
) -> dict[K, list[R]]:
    """The records per asked key, in the records' order; every asked key is present
    (with no records, an empty list), a record for a key not asked is left out."""
    found: dict[K, list[R]] = {k: [] for k in asked}
    for record in records:
        k = key(record)
        if k is not None and k in found:
            found[k].append(record)
    return found


def chunked(keys: Sequence[K], size: int) -> list[Sequence[K]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def even_size(count: int, most: int) -> int:
    """The chunk size that splits ``count`` keys into as few chunks of at most ``most``
    as can be, all about as large: 50 keys by at most 40 are two of 25, not 40 and 10
    (a source answers a call in the time its largest chunk takes)."""
    parts = max(1, -(-count // most))
    return max(1, -(-count // parts))


async def in_chunks(
    keys: Iterable[K], size: int, fetch: Callable[[Sequence[K]], Awaitable[list[R]]]
) -> list[R]:
    """Fetch de-duplicated ``keys`` in chunks of at most ``size``, chunks in parallel."""
    distinct = unique(keys)
    if not distinct:
        return []
    parts = await asyncio.gather(*(_fetch(fetch, chunk) for chunk in chunked(distinct, size)))
    return [record for part in parts for record in part]


async def _fetch(fetch: Callable[[Sequence[K]], Awaitable[list[R]]], chunk: Sequence[K]) -> list[R]:
    chunk_keys.set(len(chunk))  # gather runs each chunk in its own task: its own context
    return await fetch(chunk)
