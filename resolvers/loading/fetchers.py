"""Every batch read the schema makes, by name, in one uniform shape: keys in, a dict of
the keys found out.

Naming each read once lets the gateway put its cross-request layer (cache by
freshness, single flight, batching window) in front of any of them without the schema
knowing, and keeps the per-request loaders a plain table over these functions. The
loaders hand each read their request's account (``adapters.cache.Served``), where that
layer notes what served it; a read without the layer has nothing to note.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from adapters.cache import Served
from resolvers.loading.reads import READS, Fetch
from resolvers.loading.sources import Sources

#: a read as the loaders make it: the keys, and the asking request's account
Read = Callable[[Sequence[Any], Served], Awaitable[Mapping[Any, Any]]]
#: (name, source, fetch) -> the read to make; the gateway's cross-request layer, say
Wrap = Callable[[str, str, Fetch], Read]


def _direct(name: str, source: str, fetch: Fetch) -> Read:
    """The read straight from the source: nothing between to account for."""
    return lambda keys, served: fetch(keys)


class Fetchers(dict[str, Read]):
    """Every read by name, from the source it asks, as ``resolvers/loading/reads.py``
    declares it."""

    @classmethod
    def of(cls, sources: Sources, wrap: Wrap = _direct) -> Fetchers:
        return cls(
            {name: wrap(name, read.source, read.fetch(sources)) for name, read in READS.items()}
        )
