"""Per-request DataLoaders: every key asked for in one round becomes one upstream call.

A loader is made per request, so its cache never serves one client another's data and
never outlives the request; cross-request caching is a separate, explicit layer.
Each loader wraps one adapter batch method, which de-duplicates and chunks its keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader

from adapters.records import (
    CustomerFragment,
    InTransitRecord,
    LocationRecord,
    LoyaltyAccount,
    OrderRecord,
    PriceRecord,
    ProductRecord,
    PromotionRecord,
    StockRecord,
)
from resolvers.sources import Sources

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _keyed(
    fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]], default: Any = None
) -> DataLoader[K, Any]:
    """A loader over an adapter method that answers a dict; absent keys get ``default``."""

    async def batch(keys: list[K]) -> list[Any]:
        found = await fetch(keys)
        return [found.get(key, default) for key in keys]

    return DataLoader(batch, loop=asyncio.get_running_loop())


def _grouped(
    fetch: Callable[[Sequence[str]], Awaitable[Sequence[Any]]], key_of: Callable[[Any], str]
) -> DataLoader[str, list[Any]]:
    """A loader over an adapter method that answers a flat list, grouped per asked key."""

    async def batch(keys: list[str]) -> list[list[Any]]:
        groups: dict[str, list[Any]] = {key: [] for key in keys}
        for record in await fetch(keys):
            groups.setdefault(key_of(record), []).append(record)
        return [groups[key] for key in keys]

    return DataLoader(batch, loop=asyncio.get_running_loop())


class Loaders:
    """All loaders of one request. Attribute names say source, entity and key."""

    def __init__(self, sources: Sources) -> None:
        crm, erp, pos, wms = sources.crm, sources.erp, sources.pos, sources.wms
        self.crm_contact: DataLoader[str, CustomerFragment | None] = _keyed(crm.contacts)
        self.crm_by_card: DataLoader[str, CustomerFragment | None] = _keyed(
            lambda keys: crm.contacts_by("loyalty_card", keys)
        )
        self.crm_by_email: DataLoader[str, CustomerFragment | None] = _keyed(
            lambda keys: crm.contacts_by("email", keys)
        )
        self.crm_by_erp_no: DataLoader[str, CustomerFragment | None] = _keyed(
            lambda keys: crm.contacts_by("erp_customer_no", keys)
        )
        self.erp_customer: DataLoader[str, CustomerFragment | None] = _keyed(erp.customers)
        self.erp_customer_by_email: DataLoader[str, CustomerFragment | None] = _keyed(
            erp.customers_by_email
        )
        self.pos_by_card: DataLoader[str, LoyaltyAccount | None] = _keyed(pos.loyalty_by_cards)
        self.pos_by_customer: DataLoader[str, LoyaltyAccount | None] = _keyed(
            pos.loyalty_by_customers
        )
        self.pos_by_email: DataLoader[str, LoyaltyAccount | None] = _keyed(pos.loyalty_by_emails)
        self.erp_orders_of: DataLoader[str, list[OrderRecord]] = _keyed(
            erp.orders_by_customer, default=[]
        )
        self.pos_orders_of: DataLoader[str, list[OrderRecord]] = _keyed(
            pos.orders_by_customer, default=[]
        )
        self.erp_order: DataLoader[str, OrderRecord | None] = _keyed(erp.orders)
        self.pos_order: DataLoader[str, OrderRecord | None] = _keyed(pos.orders)
        self.item: DataLoader[str, ProductRecord | None] = _keyed(erp.items)
        self.price: DataLoader[tuple[str, str], PriceRecord | None] = _keyed(erp.prices)
        self.promotions: DataLoader[str, list[PromotionRecord]] = _keyed(erp.promotions, default=[])
        self.store_stock: DataLoader[str, list[StockRecord]] = _grouped(pos.stock, lambda r: r.sku)
        self.warehouse_stock: DataLoader[str, list[StockRecord]] = _grouped(
            wms.stock, lambda r: r.sku
        )
        self.inbound: DataLoader[str, list[InTransitRecord]] = _grouped(
            wms.inbound, lambda r: r.sku
        )
        self._stores = _once(pos.locations)
        self._warehouses = _once(wms.warehouses)

    async def stores(self) -> list[LocationRecord]:
        return await self._stores()

    async def warehouses(self) -> list[LocationRecord]:
        return await self._warehouses()


def _once(fetch: Callable[[], Awaitable[V]]) -> Callable[[], Awaitable[V]]:
    """A key-less fetch made at most once per request, however many fields ask for it."""
    task: asyncio.Future[V] | None = None

    def get() -> asyncio.Future[V]:
        nonlocal task
        if task is None:
            task = asyncio.ensure_future(fetch())
        return task

    async def wait() -> V:
        return await get()

    return wait
