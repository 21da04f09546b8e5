"""Every batch read the schema makes, by name, in one uniform shape: keys in, a dict of
the keys found out.

Naming each read once lets the gateway put its cross-request layer (cache by
freshness, single flight, batching window) in front of any of them without the schema
knowing, and keeps the per-request loaders a plain table over these functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.batching import grouped
from resolvers.sources import Sources

Fetch = Callable[[Sequence[Any]], Awaitable[Mapping[Any, Any]]]
#: (name, source, fetch) -> the fetch to use; the identity unless the gateway wraps it
Wrap = Callable[[str, str, Fetch], Fetch]

ALL = "all"  # the one key of key-less reads (the store list, the warehouse list)


def _grouped(fetch: Callable[[Sequence[str]], Awaitable[Sequence[Any]]]) -> Fetch:
    """A read answering a flat list of records with a ``sku``, as a dict per asked sku."""

    async def by_sku(keys: Sequence[str]) -> Mapping[str, list[Any]]:
        return grouped(keys, await fetch(keys), lambda record: record.sku)

    return by_sku


def _whole(fetch: Callable[[], Awaitable[list[Any]]]) -> Fetch:
    """A key-less read, under the single key ``ALL``."""

    async def whole(keys: Sequence[str]) -> Mapping[str, list[Any]]:
        return {ALL: await fetch()}

    return whole


def _each(fetch: Callable[[Any], Awaitable[Any]]) -> Fetch:
    """A read that takes one key a call (a search), the keys of a batch in parallel."""

    async def each(keys: Sequence[Any]) -> Mapping[Any, Any]:
        found = await asyncio.gather(*(fetch(key) for key in keys))
        return dict(zip(keys, found, strict=True))

    return each


@dataclass(frozen=True, slots=True)
class Fetchers:
    crm_contact: Fetch
    crm_by_card: Fetch
    crm_by_email: Fetch
    crm_by_erp_no: Fetch
    erp_customer: Fetch
    erp_customer_by_email: Fetch
    pos_by_card: Fetch
    pos_by_customer: Fetch
    pos_by_email: Fetch
    erp_orders_of: Fetch
    pos_orders_of: Fetch
    erp_order: Fetch
    pos_order: Fetch
    erp_order_by_invoice: Fetch
    erp_returns_of: Fetch
    erp_return: Fetch
    erp_payments: Fetch
    pos_payments: Fetch
    item: Fetch
    item_search: Fetch
    categories: Fetch
    items_in_category: Fetch
    price: Fetch
    promotions: Fetch
    store_stock: Fetch
    warehouse_stock: Fetch
    inbound: Fetch
    stores: Fetch
    warehouses: Fetch

    @classmethod
    def of(cls, sources: Sources, wrap: Wrap | None = None) -> Fetchers:
        crm, erp, pos, wms = sources.crm, sources.erp, sources.pos, sources.wms
        table: dict[str, tuple[str, Fetch]] = {
            "crm_contact": ("crm", crm.contacts),
            "crm_by_card": ("crm", lambda keys: crm.contacts_by("loyalty_card", keys)),
            "crm_by_email": ("crm", lambda keys: crm.contacts_by("email", keys)),
            "crm_by_erp_no": ("crm", lambda keys: crm.contacts_by("erp_customer_no", keys)),
            "erp_customer": ("erp", erp.customers),
            "erp_customer_by_email": ("erp", erp.customers_by_email),
            "pos_by_card": ("pos", pos.loyalty_by_cards),
            "pos_by_customer": ("pos", pos.loyalty_by_customers),
            "pos_by_email": ("pos", pos.loyalty_by_emails),
            "erp_orders_of": ("erp", erp.orders_by_customer),
            "pos_orders_of": ("pos", pos.orders_by_customer),
            "erp_order": ("erp", erp.orders),
            "pos_order": ("pos", pos.orders),
            "erp_order_by_invoice": ("erp", erp.orders_by_invoice),
            "erp_returns_of": ("erp", erp.returns_of),
            "erp_return": ("erp", erp.returns),
            "erp_payments": ("erp", erp.payments_by_order),
            "pos_payments": ("pos", pos.payments_by_order),
            "item": ("erp", erp.items),
            "item_search": ("erp", _each(erp.search_items)),
            "categories": ("erp", _whole(erp.categories)),
            "items_in_category": ("erp", erp.items_in_categories),
            "price": ("erp", erp.prices),
            "promotions": ("erp", erp.promotions),
            "store_stock": ("pos", _grouped(pos.stock)),
            "warehouse_stock": ("wms", _grouped(wms.stock)),
            "inbound": ("wms", _grouped(wms.inbound)),
            "stores": ("pos", _whole(pos.locations)),
            "warehouses": ("wms", _whole(wms.warehouses)),
        }
        return cls(
            **{
                name: wrap(name, source, fetch) if wrap else fetch
                for name, (source, fetch) in table.items()
            }
        )
