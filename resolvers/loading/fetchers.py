"""Every batch read the schema makes, by name, in one uniform shape: keys in, a dict of
the keys found out.

Naming each read once lets the gateway put its cross-request layer (cache by
freshness, single flight, batching window) in front of any of them without the schema
knowing, and keeps the per-request loaders a plain table over these functions. The
loaders hand each read their request's account (``adapters.cache.Served``), where that
layer notes what served it; a read without the layer has nothing to note.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from adapters.cache import Served
from adapters.transport.batching import grouped
from resolvers.loading.sources import Sources

#: an adapter's batch read: keys in, the keys found out
Fetch = Callable[[Sequence[Any]], Awaitable[Mapping[Any, Any]]]
#: a read as the loaders make it: the keys, and the asking request's account
Read = Callable[[Sequence[Any], Served], Awaitable[Mapping[Any, Any]]]
#: (name, source, fetch) -> the read to make; the gateway's cross-request layer, say
Wrap = Callable[[str, str, Fetch], Read]

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


def _direct(name: str, source: str, fetch: Fetch) -> Read:
    """The read straight from the source: nothing between to account for."""
    return lambda keys, served: fetch(keys)


def _each(fetch: Callable[[Any], Awaitable[Any]]) -> Fetch:
    """A read that takes one key a call (a search), the keys of a batch in parallel."""

    async def each(keys: Sequence[Any]) -> Mapping[Any, Any]:
        found = await asyncio.gather(*(fetch(key) for key in keys))
        return dict(zip(keys, found, strict=True))

    return each


class Fetchers(dict[str, Read]):
    """Every read by name (named like the request's loaders, which declare each one's
    key and value type: ``resolvers/loading/loaders.py``), from the source it asks."""

    @classmethod
    def of(cls, sources: Sources, wrap: Wrap = _direct) -> Fetchers:
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
        return cls({name: wrap(name, source, fetch) for name, (source, fetch) in table.items()})
