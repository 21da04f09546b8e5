"""Per-request DataLoaders: every key asked for in one round becomes one upstream call.

A loader is made per request, so its cache never serves one client another's data and
never outlives the request; caching across requests is the separate, explicit layer
the gateway may put into the fetchers (``resolvers.loading.fetchers``). The loaders keep
the request's account of what its reads were served from (``served``: stale stand-ins,
the read log) and hand it to every read, so the gateway finds it on the request's
context.

Each read's key and value type is declared once, with the read
(``resolvers/loading/reads.py``): :class:`Loaders` inherits the declarations, so type
checkers hold the resolvers to them, and an unknown key of a list-valued read is an
empty list rather than null (DESIGN: lists are non-null).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from adapters.cache import Served
from adapters.errors import MosaicError
from resolvers.loading.dataloader import DataLoader
from resolvers.loading.fetchers import Fetchers, Read
from resolvers.loading.memo import ByIdentity
from resolvers.loading.reads import ALL, Reads, UpstreamRead

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


def _loader(read: Read, served: Served, default: Any, batching: bool) -> DataLoader[Any, Any]:
    """``batching=False`` sends every key on its own: the naive gateway the benchmark
    measures Mosaic against, one upstream call per object."""

    async def batch(keys: list[Hashable]) -> list[Any]:
        try:
            found = await read(keys, served)
        except MosaicError as error:
            # Per key, so the loader remembers the failure for this request: every
            # field that needs these keys gets the error without asking the source again.
            return [error] * len(keys)
        return [found.get(key, default) for key in keys]

    return DataLoader(batch, batching=batching)


class Loaders(Reads):
    """All loaders of one request, one per read and named like it."""

    def __init__(self, fetchers: Fetchers, *, batching: bool = True) -> None:
        self._fetchers, self._batching = fetchers, batching
        self.served = Served()
        self._indexes: ByIdentity[dict[str, Any]] = ByIdentity()
        self._plans: dict[Hashable, Any] = {}

    def make(self, read: UpstreamRead[K, V]) -> DataLoader[K, V]:
        """The loader of ``read`` for this request (the declaration calls this when the
        request first asks for it: ``loaders.item``)."""
        default: list[Any] | None = [] if read.list_valued else None
        return _loader(self._fetchers[read.name], self.served, default, self._batching)

    def fresh(self) -> Loaders:
        """New loaders on the same fetchers, with a new account: for the next operation
        of a connection."""
        return Loaders(self._fetchers, batching=self._batching)

    def indexed(self, index: Callable[..., dict[str, Any]], *parts: object) -> dict[str, Any]:
        """``index(*parts)``, built once per request for the lists the loaders gave:
        every product of a listing looks its stores up in the same one."""
        return self._indexes.get(index, *parts)

    def planned(self, key: Hashable, plan: Callable[[], T]) -> T:
        """``plan()``, worked out once per request for ``key``: what a field at one place
        in the answer reads follows from its selection, the same for every object of a
        list (and the next operation of a connection gets fresh loaders)."""
        if key not in self._plans:
            self._plans[key] = plan()
        found: T = self._plans[key]
        return found

    async def all_stores(self) -> Any:
        return await self.stores.load(ALL)

    async def all_warehouses(self) -> Any:
        return await self.warehouses.load(ALL)
