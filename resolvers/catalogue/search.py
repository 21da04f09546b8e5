"""Browsing the catalogue: a search of the ERP's item cards a page at a time, and the
item categories to browse by.

Both are read live from NAV (DESIGN: product master is the ERP's): a search is one
``ReadMultiple`` of the Item Card page per page shown, filtered by NAV on the item's
description and category (and on the channels that sell it, where the installation
keeps them), the ERP's own bookmark behind the cursor, so page two starts where NAV
left off however the catalogue changed meanwhile
(``adapters.erp.adapter.ErpAdapter.search_items`` says how). The products found come
with their item cards, so whatever the page selects below them (prices, stock) is
started in the same round as for ``products(skus)``.
"""

from __future__ import annotations

import strawberry

from adapters.records import CategoryRecord, ItemPage, ItemSearch
from resolvers.graphql.context import Info
from resolvers.graphql.types.common import Channel, asked_channel
from resolvers.graphql.types.connection import Connection, Edge, cursor, first_checked, position
from resolvers.graphql.types.product import Product
from resolvers.loading.prefetch import arrived, prefetch_products
from resolvers.loading.reads import ALL

#: the list a search's cursors belong to
SEARCH = "productSearch"


@strawberry.type(description="An item category of the ERP (NAV's Item Category), to browse by.")
class Category:
    code: str = strawberry.field(
        description="The category's code: what `Product.category` holds and "
        "`productSearch(category:)` takes."
    )
    name: str | None = strawberry.field(description="What the category is called.")
    parent_code: str | None = strawberry.field(
        description="The code of the category this one belongs to; null at the top."
    )

    @classmethod
    def of(cls, record: CategoryRecord) -> Category:
        return cls(code=record.code, name=record.name, parent_code=record.parent)


async def categories(info: Info) -> list[Category]:
    found: list[CategoryRecord] = await info.context.loaders.categories.load(ALL)
    return [Category.of(record) for record in found]


async def search(
    info: Info,
    text: str | None,
    category: str | None,
    channel: Channel | None,
    first: int,
    after: str | None,
) -> Connection[Product]:
    """A page of the products whose name contains ``text`` (without regard to case), in
    ``category``, that the asking channel sells, in the ERP's item order."""
    asked = ItemSearch(
        text=(text or "").strip() or None,
        category=(category or "").strip() or None,
        channel=asked_channel(channel, info.context.channel),  # type: ignore[arg-type]
        after=position(after, SEARCH),
        size=first_checked(first),
    )
    found: ItemPage = await info.context.loaders.item_search.load(asked)
    loaders = info.context.loaders
    for _, item in found.items:  # the cards came with the search: no second read
        loaders.item.prime(item.sku, item)
    skus = [item.sku for _, item in found.items]
    loads = prefetch_products(info, skus, under=("edges", "node"))
    products = await Product.load_many(info, skus)
    await arrived(loads)
    edges = [Edge(cursor=cursor(SEARCH, key), node=products[item.sku]) for key, item in found.items]
    return Connection.of(edges, more=found.more)
