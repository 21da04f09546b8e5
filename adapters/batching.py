"""Splitting a batch of keys into the calls a source accepts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


def unique(keys: Iterable[K]) -> list[K]:
    """The keys once each, in first-seen order (so calls are deterministic)."""
    return list(dict.fromkeys(keys))


def chunked(keys: Sequence[K], size: int) -> list[Sequence[K]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


async def in_chunks(
    keys: Iterable[K], size: int, fetch: Callable[[Sequence[K]], Awaitable[list[R]]]
) -> list[R]:
    """Fetch de-duplicated ``keys`` in chunks of at most ``size``, chunks in parallel."""
    distinct = unique(keys)
    if not distinct:
        return []
    parts = await asyncio.gather(*(fetch(chunk) for chunk in chunked(distinct, size)))
    return [record for part in parts for record in part]
