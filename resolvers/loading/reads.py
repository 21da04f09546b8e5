"""Every upstream read the schema makes, each declared once: its name, the source it
asks, how to make its batch function from the adapters, its key and value types and
the kind of fact it answers (which decides how fresh it must be).

Everything else is derived from :class:`Reads`: the fetch table by name
(``resolvers.loading.fetchers``), the request's typed loaders (``Loaders`` is a
``Reads``: ``loaders.item`` is a ``DataLoader[str, ProductRecord | None]`` to type
checkers, made on first use), which reads answer an unknown key with an empty list,
what a shared cache store keeps of each, and the freshness the gateway gives each
(``gateway/caching/policy.py`` keeps DESIGN's freshness per kind of fact, never per
read). So a read cannot be named in one of those places and missing in another.

A declaration is ``UpstreamRead[Key, Value](source, fact, fetch)``: the type
application is the declaration of its types (kept at runtime, where the loaders and the
cache store read them), and a declaration without one fails at import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, get_args, get_origin, overload

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
from adapters.transport.batching import grouped

if TYPE_CHECKING:
    from resolvers.loading.dataloader import DataLoader
    from resolvers.loading.sources import Sources

K = TypeVar("K")
V = TypeVar("V")

#: an adapter's batch read: keys in, the keys found out
Fetch = Callable[[Sequence[Any]], Awaitable[Mapping[Any, Any]]]

ALL = "all"  # the one key of key-less reads (the store list, the warehouse list)


class Fact(Enum):
    """The kinds of fact in DESIGN's freshness table (systems of record); how fresh each
    must be is the gateway's cache policy's to say (gateway/caching/policy.py), once."""

    LIVE = "live"  # customers, loyalty, orders, returns, payments
    PRODUCT = "product master"
    PRICE = "prices and promotions"
    STOCK = "stock"
    INBOUND = "inbound shipments"
    PLACES = "places"  # stores and warehouses: reference data


class MakesLoaders(Protocol):
    """What a declaration asks of the object it is read from (the request's loaders)."""

    def make(self, read: UpstreamRead[K, V]) -> DataLoader[K, V]: ...


class UpstreamRead(Generic[K, V]):
    """One read, declared as an attribute of :class:`Reads` (which names it)."""

    def __init__(self, source: str, fact: Fact, fetch: Callable[[Sources], Fetch]) -> None:
        self.source, self.fact, self.fetch = source, fact, fetch
        self.name = ""
        self.types: tuple[Any, ...] = ()

    def __set_name__(self, owner: type, name: str) -> None:
        # the type application ``UpstreamRead[K, V](...)`` leaves itself on the instance
        declared = getattr(self, "__orig_class__", None)
        if get_origin(declared) is not UpstreamRead:
            raise TypeError(f"read {name!r} must declare its types: UpstreamRead[Key, Value](...)")
        self.name, self.types = name, get_args(declared)

    @property
    def value(self) -> Any:
        """What one key's value is, as its loader answers it."""
        return self.types[1]

    @property
    def list_valued(self) -> bool:
        """Whether a key the source does not know is an empty list rather than null
        (DESIGN: lists are non-null)."""
        return get_origin(self.value) is list

    @overload
    def __get__(self, obj: None, owner: type) -> UpstreamRead[K, V]: ...
    @overload
    def __get__(self, obj: MakesLoaders, owner: type) -> DataLoader[K, V]: ...
    def __get__(
        self, obj: MakesLoaders | None, owner: type
    ) -> UpstreamRead[K, V] | DataLoader[K, V]:
        """The request's loader for this read, made when the request first asks for it
        and kept on the instance (most requests use a few of the two dozen, and making
        them all was a tenth of a small request's CPU)."""
        if obj is None:
            return self
        loader = obj.make(self)
        setattr(obj, self.name, loader)
        return loader


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


class Reads:
    """Every read, by name."""

    # customers: the CRM contact, and the other systems' fragments
    crm_contact = UpstreamRead[str, CustomerFragment | None](
        "crm", Fact.LIVE, lambda s: s.crm.contacts
    )
    crm_by_card = UpstreamRead[str, CustomerFragment | None](
        "crm", Fact.LIVE, lambda s: lambda keys: s.crm.contacts_by("loyalty_card", keys)
    )
    crm_by_email = UpstreamRead[str, CustomerFragment | None](
        "crm", Fact.LIVE, lambda s: lambda keys: s.crm.contacts_by("email", keys)
    )
    crm_by_erp_no = UpstreamRead[str, CustomerFragment | None](
        "crm", Fact.LIVE, lambda s: lambda keys: s.crm.contacts_by("erp_customer_no", keys)
    )
    erp_customer = UpstreamRead[str, CustomerFragment | None](
        "erp", Fact.LIVE, lambda s: s.erp.customers
    )
    erp_customer_by_email = UpstreamRead[str, CustomerFragment | None](
        "erp", Fact.LIVE, lambda s: s.erp.customers_by_email
    )
    pos_by_card = UpstreamRead[str, LoyaltyAccount | None](
        "pos", Fact.LIVE, lambda s: s.pos.loyalty_by_cards
    )
    pos_by_customer = UpstreamRead[str, LoyaltyAccount | None](
        "pos", Fact.LIVE, lambda s: s.pos.loyalty_by_customers
    )
    pos_by_email = UpstreamRead[str, LoyaltyAccount | None](
        "pos", Fact.LIVE, lambda s: s.pos.loyalty_by_emails
    )
    # orders, returns, payments
    erp_orders_of = UpstreamRead[str, list[OrderRecord]](
        "erp", Fact.LIVE, lambda s: s.erp.orders_by_customer
    )
    pos_orders_of = UpstreamRead[str, list[OrderRecord]](
        "pos", Fact.LIVE, lambda s: s.pos.orders_by_customer
    )
    erp_order = UpstreamRead[str, OrderRecord | None]("erp", Fact.LIVE, lambda s: s.erp.orders)
    pos_order = UpstreamRead[str, OrderRecord | None]("pos", Fact.LIVE, lambda s: s.pos.orders)
    erp_order_by_invoice = UpstreamRead[str, OrderRecord | None](
        "erp", Fact.LIVE, lambda s: s.erp.orders_by_invoice
    )
    erp_returns_of = UpstreamRead[str, list[ReturnRecord]](
        "erp", Fact.LIVE, lambda s: s.erp.returns_of
    )
    erp_return = UpstreamRead[str, ReturnRecord | None]("erp", Fact.LIVE, lambda s: s.erp.returns)
    erp_payments = UpstreamRead[str, list[PaymentRecord]](
        "erp", Fact.LIVE, lambda s: s.erp.payments_by_order
    )
    pos_payments = UpstreamRead[str, list[PaymentRecord]](
        "pos", Fact.LIVE, lambda s: s.pos.payments_by_order
    )
    # the catalogue
    item = UpstreamRead[str, ProductRecord | None]("erp", Fact.PRODUCT, lambda s: s.erp.items)
    item_search = UpstreamRead[ItemSearch, ItemPage](  # a search always answers a page
        "erp", Fact.LIVE, lambda s: _each(s.erp.search_items)
    )
    categories = UpstreamRead[str, list[CategoryRecord]](
        "erp", Fact.PRODUCT, lambda s: _whole(s.erp.categories)
    )
    items_in_category = UpstreamRead[str, list[ProductRecord]](
        "erp", Fact.PRODUCT, lambda s: s.erp.items_in_categories
    )
    price = UpstreamRead[tuple[str, str], PriceRecord | None](
        "erp", Fact.PRICE, lambda s: s.erp.prices
    )
    promotions = UpstreamRead[str, list[PromotionRecord]](
        "erp", Fact.PRICE, lambda s: s.erp.promotions
    )
    # stock and places
    store_stock = UpstreamRead[str, list[StockRecord]](
        "pos", Fact.STOCK, lambda s: _grouped(s.pos.stock)
    )
    warehouse_stock = UpstreamRead[str, list[StockRecord]](
        "wms", Fact.STOCK, lambda s: _grouped(s.wms.stock)
    )
    inbound = UpstreamRead[str, list[InTransitRecord]](
        "wms", Fact.INBOUND, lambda s: _grouped(s.wms.inbound)
    )
    stores = UpstreamRead[str, list[LocationRecord]](
        "pos", Fact.PLACES, lambda s: _whole(s.pos.locations)
    )
    warehouses = UpstreamRead[str, list[LocationRecord]](
        "wms", Fact.PLACES, lambda s: _whole(s.wms.warehouses)
    )


#: every read by name, from :class:`Reads`
READS: Mapping[str, UpstreamRead[Any, Any]] = {
    name: read for name, read in vars(Reads).items() if isinstance(read, UpstreamRead)
}
