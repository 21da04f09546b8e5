"""Per-request DataLoaders: every key asked for in one round becomes one upstream call.

A loader is made per request, so its cache never serves one client another's data and
never outlives the request; caching across requests is the separate, explicit layer
the gateway may put into the fetchers (``resolvers.fetchers``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from aiodataloader import DataLoader

from adapters.errors import MosaicError
from resolvers.fetchers import ALL, Fetch, Fetchers
from resolvers.memo import ByIdentity

T = TypeVar("T")

#: What a loader answers for a key its source does not know, per fetcher; lists are
#: empty rather than null (DESIGN: lists are non-null).
LIST_VALUED = {
    "erp_orders_of",
    "pos_orders_of",
    "erp_returns_of",
    "erp_payments",
    "pos_payments",
    "items_in_category",
    "categories",
    "promotions",
    "store_stock",
    "warehouse_stock",
    "inbound",
    "stores",
    "warehouses",
}


def _loader(fetch: Fetch, default: Any, batching: bool) -> DataLoader[Hashable, Any]:
    """``batching=False`` sends every key on its own: the naive gateway the benchmark
    measures Mosaic against, one upstream call per object."""

    async def batch(keys: list[Hashable]) -> list[Any]:
        try:
            found = await fetch(keys)
        except MosaicError as error:
            # Per key, so the loader remembers the failure for this request: every
            # field that needs these keys gets the error without asking the source again.
            return [error] * len(keys)
        return [found.get(key, default) for key in keys]

    return DataLoader(batch, batch=batching, loop=asyncio.get_running_loop())


class Loaders:
    """All loaders of one request, one per fetcher and named like it."""

    def __init__(self, fetchers: Fetchers, *, batching: bool = True) -> None:
        self._fetchers, self._batching = fetchers, batching
        self._indexes: ByIdentity[dict[str, Any]] = ByIdentity()
        self._plans: dict[Hashable, Any] = {}

    def __getattr__(self, name: str) -> DataLoader[Hashable, Any]:
        """A loader is made when a request first asks for it: most requests use a few
        of the two dozen, and making them all was a tenth of a small request's CPU."""
        if name not in Fetchers.__dataclass_fields__:
            raise AttributeError(name)
        default: list[Any] | None = [] if name in LIST_VALUED else None
        loader = _loader(getattr(self._fetchers, name), default, self._batching)
        setattr(self, name, loader)
        return loader

    def fresh(self) -> Loaders:
        """New loaders on the same fetchers: for the next operation of a connection."""
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

    # Declared for type checkers; made on first use by __getattr__.
    crm_contact: DataLoader[Hashable, Any]
    crm_by_card: DataLoader[Hashable, Any]
    crm_by_email: DataLoader[Hashable, Any]
    crm_by_erp_no: DataLoader[Hashable, Any]
    erp_customer: DataLoader[Hashable, Any]
    erp_customer_by_email: DataLoader[Hashable, Any]
    pos_by_card: DataLoader[Hashable, Any]
    pos_by_customer: DataLoader[Hashable, Any]
    pos_by_email: DataLoader[Hashable, Any]
    erp_orders_of: DataLoader[Hashable, Any]
    pos_orders_of: DataLoader[Hashable, Any]
    erp_order: DataLoader[Hashable, Any]
    pos_order: DataLoader[Hashable, Any]
    erp_order_by_invoice: DataLoader[Hashable, Any]
    erp_returns_of: DataLoader[Hashable, Any]
    erp_return: DataLoader[Hashable, Any]
    erp_payments: DataLoader[Hashable, Any]
    pos_payments: DataLoader[Hashable, Any]
    item: DataLoader[Hashable, Any]
    item_search: DataLoader[Hashable, Any]
    categories: DataLoader[Hashable, Any]
    items_in_category: DataLoader[Hashable, Any]
    price: DataLoader[Hashable, Any]
    promotions: DataLoader[Hashable, Any]
    store_stock: DataLoader[Hashable, Any]
    warehouse_stock: DataLoader[Hashable, Any]
    inbound: DataLoader[Hashable, Any]
    stores: DataLoader[Hashable, Any]
    warehouses: DataLoader[Hashable, Any]
