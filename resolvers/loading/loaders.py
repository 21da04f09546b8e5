"""Per-request DataLoaders: every key asked for in one round becomes one upstream call.

A loader is made per request, so its cache never serves one client another's data and
never outlives the request; caching across requests is the separate, explicit layer
the gateway may put into the fetchers (``resolvers.loading.fetchers``). The loaders keep
the request's account of what its reads were served from (``served``: stale stand-ins,
the read log) and hand it to every read, so the gateway finds it on the request's
context.

Each read's key and value type is stated once, as its loader's declaration at the end
of :class:`Loaders`: type checkers hold the resolvers to it, an unknown key of a
list-valued read is an empty list rather than null (DESIGN: lists are non-null), and
the gateway's shared cache store learns from it what it keeps (``VALUES``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from aiodataloader import DataLoader

from adapters.cache import Served
from adapters.errors import MosaicError
from adapters.records import (
    CategoryRecord,
    CustomerFragment,
    InTransitRecord,
    ItemPage,
    ItemSearch,
    LocationRecord,
    LoyaltyAccount,
    OrderRecord,
    PaymentRecord,
    PriceRecord,
    ProductRecord,
    PromotionRecord,
    ReturnRecord,
    StockRecord,
)
from resolvers.loading.fetchers import ALL, Fetchers, Read
from resolvers.loading.memo import ByIdentity

T = TypeVar("T")


def _loader(read: Read, served: Served, default: Any, batching: bool) -> DataLoader[Hashable, Any]:
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

    return DataLoader(batch, batch=batching, loop=asyncio.get_running_loop())


class Loaders:
    """All loaders of one request, one per read and named like it."""

    def __init__(self, fetchers: Fetchers, *, batching: bool = True) -> None:
        self._fetchers, self._batching = fetchers, batching
        self.served = Served()
        self._indexes: ByIdentity[dict[str, Any]] = ByIdentity()
        self._plans: dict[Hashable, Any] = {}

    def __getattr__(self, name: str) -> DataLoader[Hashable, Any]:
        """A loader is made when a request first asks for it: most requests use a few
        of the two dozen, and making them all was a tenth of a small request's CPU."""
        if name not in VALUES:
            raise AttributeError(name)
        default: list[Any] | None = [] if name in LIST_VALUED else None
        loader = _loader(self._fetchers[name], self.served, default, self._batching)
        setattr(self, name, loader)
        return loader

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

    # Every read's key and value type (made on first use by __getattr__).
    crm_contact: DataLoader[str, CustomerFragment | None]
    crm_by_card: DataLoader[str, CustomerFragment | None]
    crm_by_email: DataLoader[str, CustomerFragment | None]
    crm_by_erp_no: DataLoader[str, CustomerFragment | None]
    erp_customer: DataLoader[str, CustomerFragment | None]
    erp_customer_by_email: DataLoader[str, CustomerFragment | None]
    pos_by_card: DataLoader[str, LoyaltyAccount | None]
    pos_by_customer: DataLoader[str, LoyaltyAccount | None]
    pos_by_email: DataLoader[str, LoyaltyAccount | None]
    erp_orders_of: DataLoader[str, list[OrderRecord]]
    pos_orders_of: DataLoader[str, list[OrderRecord]]
    erp_order: DataLoader[str, OrderRecord | None]
    pos_order: DataLoader[str, OrderRecord | None]
    erp_order_by_invoice: DataLoader[str, OrderRecord | None]
    erp_returns_of: DataLoader[str, list[ReturnRecord]]
    erp_return: DataLoader[str, ReturnRecord | None]
    erp_payments: DataLoader[str, list[PaymentRecord]]
    pos_payments: DataLoader[str, list[PaymentRecord]]
    item: DataLoader[str, ProductRecord | None]
    item_search: DataLoader[ItemSearch, ItemPage]  # a search always answers a page
    categories: DataLoader[str, list[CategoryRecord]]
    items_in_category: DataLoader[str, list[ProductRecord]]
    price: DataLoader[tuple[str, str], PriceRecord | None]
    promotions: DataLoader[str, list[PromotionRecord]]
    store_stock: DataLoader[str, list[StockRecord]]
    warehouse_stock: DataLoader[str, list[StockRecord]]
    inbound: DataLoader[str, list[InTransitRecord]]
    stores: DataLoader[str, list[LocationRecord]]
    warehouses: DataLoader[str, list[LocationRecord]]


#: each read's value as its loader answers a key, from the declarations above
VALUES: dict[str, Any] = {
    name: get_args(hint)[1]
    for name, hint in get_type_hints(Loaders).items()
    if get_origin(hint) is DataLoader
}
#: the reads whose loaders answer a key the source does not know with an empty list
LIST_VALUED = frozenset(name for name, value in VALUES.items() if get_origin(value) is list)
