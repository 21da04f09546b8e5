"""Suggestions for one customer, derived live from what they bought in every channel.

Nothing is stored, no profile and no score: each request reads the customer's orders
(ERP online orders and POS receipts alike, through the loaders the rest of the query
shares), the item cards of what they bought, the other items of those categories, and
the stock of the asking channel, and suggests from that:

- only with the customer's valid consent for personalisation (CRM); without it the
  field is null with ``CONSENT_REQUIRED``;
- categories configured as sensitive (``MOSAIC_SENSITIVE_CATEGORIES``, default
  HEALTH) never drive a suggestion nor appear in one;
- broad rather than narrowly segmented: same-category items the customer has not
  bought, from the (at most five) categories they bought most in, at most two per
  category, taken in turn across categories;
- available in the asking channel: sold there (the ERP's assortment), not blocked, and
  in stock there (free stock in an open store for STORE, in a warehouse online), the
  best-stocked first;
- each says why: the category and channels that led to it, and the SKUs bought.

Upstream calls do not grow with the order history: beyond finding the customer and
their orders, one ERP ItemCard read for the items bought, one for the categories'
items, and the channel's stock (one POS inventory read and the store list, or one
WMS stock read). Candidates are capped per category, so the stock read is one chunk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import strawberry

from adapters.errors import BadUserInput, ConsentRequired
from adapters.records import OrderRecord, ProductRecord, StockRecord
from resolvers.catalogue.places import stores
from resolvers.golden.identity import Identity
from resolvers.golden.purchases import order_history
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.types.product import Product
from resolvers.loading.ready import settle
from resolvers.privacy.authz import has_consent

PURPOSE = "personalisation"
MAX_LIMIT = 10
PER_CATEGORY = 2
MAX_CATEGORIES = 5
#: the items per category whose stock is read; keeps the stock read one call
CANDIDATES_PER_CATEGORY = 10


@strawberry.type(description="A product suggested for a customer, and why.")
class Recommendation:
    product: Product = strawberry.field(description="The product suggested.")
    reason: str = strawberry.field(description="Why, in words a shopper understands.")
    based_on: list[strawberry.ID] = strawberry.field(
        description="The SKUs the customer bought that led to it."
    )


async def recommend(
    info: Info, identity: Identity, limit: int, channel: str
) -> list[Recommendation]:
    if not 0 <= limit <= MAX_LIMIT:
        raise BadUserInput(f"limit must be between 0 and {MAX_LIMIT}")
    await _require_consent(identity)
    orders = await order_history(info, identity)
    bought = await _bought_by_category(info, orders)
    driving = sorted(bought, key=lambda c: (-sum(bought[c].values()), c))[:MAX_CATEGORIES]
    owned = {line.sku for order in orders for line in order.lines}
    candidates = await _candidates(info, driving, owned, channel)
    free = await _free_stock(info, channel, [i.sku for c in driving for i in candidates[c]])
    ranked = {
        category: sorted(
            (i for i in candidates[category] if free is None or free.get(i.sku, 0) > 0),
            key=lambda i: (-(free or {}).get(i.sku, 0), i.sku),
        )[:PER_CATEGORY]
        for category in driving
    }
    where = _where_bought(orders)
    picks = [
        Recommendation(
            product=Product(
                sku=strawberry.ID(ranked[category][turn].sku), item=ranked[category][turn]
            ),
            reason=_reason(category, bought[category], where),
            based_on=[strawberry.ID(sku) for sku in sorted(bought[category])],
        )
        for turn in range(PER_CATEGORY)
        for category in driving
        if turn < len(ranked[category])
    ]
    return picks[:limit]


async def _require_consent(identity: Identity) -> None:
    """The CRM's consent, or why there is none: a CRM that failed is its own error."""
    fragments = await identity.complete()
    if fragments.crm is None and "crm" in identity.failures:
        raise identity.failures["crm"]
    if not await has_consent(identity, PURPOSE):
        raise ConsentRequired(
            f"recommendations need the customer's valid consent for {PURPOSE}", purpose=PURPOSE
        )


async def _bought_by_category(info: Info, orders: Sequence[OrderRecord]) -> dict[str, Counter[str]]:
    """Pieces bought per SKU, per category that may drive suggestions (not sensitive)."""
    pieces: Counter[str] = Counter()
    for order in orders:
        for line in order.lines:
            pieces[line.sku] += line.quantity
    skus = list(pieces)
    items: list[ProductRecord | None] = await info.context.loaders.item.load_many(skus)
    sensitive = info.context.sensitive_categories
    bought: dict[str, Counter[str]] = {}
    for sku, item in zip(skus, items, strict=True):
        if item is not None and item.category and item.category not in sensitive:
            bought.setdefault(item.category, Counter())[sku] = pieces[sku]
    return bought


async def _candidates(
    info: Info, categories: list[str], owned: set[str], channel: str
) -> dict[str, list[ProductRecord]]:
    """Per category, items the channel sells that the customer has not bought; they are
    put into the request's item loader, so the suggestions' products cost no call."""
    loaders = info.context.loaders
    sensitive = info.context.sensitive_categories
    found: list[list[ProductRecord]] = await loaders.items_in_category.load_many(categories)
    candidates: dict[str, list[ProductRecord]] = {}
    for category, items in zip(categories, found, strict=True):
        sellable = [
            item
            for item in items
            if channel in item.channels
            and not item.blocked
            and item.sku not in owned
            and item.category not in sensitive
        ][:CANDIDATES_PER_CATEGORY]
        for item in sellable:
            loaders.item.prime(item.sku, item)
        candidates[category] = sellable
    return candidates


async def _free_stock(info: Info, channel: str, skus: list[str]) -> dict[str, int] | None:
    """Free stock per SKU where the channel sells from: open stores for STORE,
    warehouses online. None when the stock's source failed (reported): then the
    assortment alone decides."""
    loaders = info.context.loaders
    if not skus:
        return {}
    if channel == "STORE":
        counts, places = await settle(info, loaders.store_stock.load_many(skus), stores(info))
        open_stores = {gid for gid, place in (places or {}).items() if place.active}

        def sells(record: StockRecord) -> bool:
            return ids.location_id("STORE", record.location_id) in open_stores
    else:
        (counts,) = await settle(info, loaders.warehouse_stock.load_many(skus))

        def sells(record: StockRecord) -> bool:
            return True

    if counts is None:
        return None
    return {
        sku: sum(max(r.on_hand - r.reserved, 0) for r in records if sells(r))
        for sku, records in zip(skus, counts, strict=True)
    }


def _where_bought(orders: Sequence[OrderRecord]) -> dict[str, set[str]]:
    where: dict[str, set[str]] = {}
    for order in orders:
        place = "in store" if order.channel == "STORE" else "online"
        for line in order.lines:
            where.setdefault(line.sku, set()).add(place)
    return where


def _reason(category: str, bought: Counter[str], where: dict[str, set[str]]) -> str:
    places = " and ".join(sorted({place for sku in bought for place in where[sku]}, reverse=True))
    things = "the product" if len(bought) == 1 else f"the {len(bought)} products"
    return f"More {category.lower()}, like {things} you bought {places}"
