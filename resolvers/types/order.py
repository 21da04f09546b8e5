"""Orders from every channel in one type: ERP online orders and POS store receipts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from adapters.records import OrderLineRecord, OrderRecord, ReturnRecord
from resolvers import ids, returnable
from resolvers.authz import DENY, VIA_ORDER, admit, guarded
from resolvers.context import Info
from resolvers.pickup import ready_at
from resolvers.places import directory
from resolvers.prefetch import arrived, prefetch_products, selected
from resolvers.ready import Ready, when_loaded
from resolvers.types.common import Address, Channel, Money
from resolvers.types.location import Location
from resolvers.types.node import Node
from resolvers.types.payment import Payment, payments_of
from resolvers.types.product import Product
from resolvers.types.vocabulary import OrderStatus

if TYPE_CHECKING:
    from resolvers.loaders import Loaders
    from resolvers.types.customer import Customer
    from resolvers.types.returns import Return


@strawberry.type(description="One line of an order: pieces of one product at one price.")
class OrderLine:
    quantity: int = strawberry.field(description="Pieces bought.")
    unit_price: Money | None = strawberry.field(
        description="What one piece was charged, the promotion applied taken off."
    )
    compare_at_unit_price: Money | None = strawberry.field(
        description="One piece's regular price, where a promotion lowered it; else null."
    )
    discount_percent: Decimal | None = strawberry.field(
        description="The promotion applied to this line (the ERP's line discount), if any."
    )
    sku: strawberry.ID = strawberry.field(description="The product's SKU.")
    product: Product = strawberry.field(description="The product bought.")
    order: strawberry.Private[OrderRecord]
    index: strawberry.Private[int]  # the line's place among the order's lines

    @strawberry.field(
        description="How many pieces of this line can still come back: what was shipped "
        "or handed over less what the order's returns took back (what `registerReturn` "
        "accepts); null while the ERP, which keeps the returns, cannot be asked.",
        graphql_type=int | None,
    )
    def returnable_quantity(self, info: Info) -> Ready[int | None]:
        def left(*found: list[ReturnRecord]) -> int:
            return returnable.per_line(self.order, (r for rs in found for r in rs))[self.index]

        return when_loaded(_returns_loads(info, self.order), left)

    @classmethod
    def of(
        cls, record: OrderRecord, index: int, line: OrderLineRecord, products: Mapping[str, Product]
    ) -> OrderLine:
        sku = strawberry.ID(line.sku)
        return cls(
            quantity=line.quantity,
            unit_price=Money.of(line.unit_price),
            compare_at_unit_price=Money.of(line.regular_price),
            discount_percent=line.discount_percent,
            sku=sku,
            product=products.get(line.sku) or Product(sku=sku),
            order=record,
            index=index,
        )


@strawberry.type(description="Where and from when a click & collect order can be collected.")
class Pickup:
    location: Location = strawberry.field(description="The store to collect at.")
    ready_at: datetime = strawberry.field(
        description="When the goods wait at the store: two hours after the order, within "
        "the store's opening hours."
    )


@strawberry.type(description="An order from any channel; `channel` says which.")
class Order(Node):
    id: strawberry.ID = strawberry.field(
        description="The order's global id: `order:erp:<sales order no.>` (online), "
        "`order:pos:<receipt id>` (in store)."
    )
    channel: Channel = strawberry.field(description="Where it was placed.")
    placed_at: datetime | None = strawberry.field(
        description="When it was placed; null where the system does not say."
    )
    status: OrderStatus | None = strawberry.field(description="How far the order is.")
    total: Money | None = strawberry.field(description="What the whole order costs.")
    lines: list[OrderLine] = strawberry.field(description="What was bought, line by line.")
    delivery_address: Address | None = strawberry.field(
        description="Where an online order is delivered (the ERP's Ship-to); null for a "
        "click & collect order and a store receipt."
    )
    record: strawberry.Private[OrderRecord]
    location_ref: strawberry.Private[str | None]
    # where the search for the customer who placed it starts: ERP customer no. or POS id
    customer_key: strawberry.Private[dict[str, str] | None] = None

    @strawberry.field(
        description="Who placed the order, where the caller may see them: the "
        "customer's fields are guarded as on every other path to a customer."
    )
    async def customer(
        self, info: Info
    ) -> Annotated[Customer, strawberry.lazy("resolvers.types.customer")] | None:
        return await admit(info, await self.placed_by(info.context.loaders), "who placed it")

    async def placed_by(self, loaders: Loaders) -> Customer | None:
        # imported here: a customer's type lists their orders, so it imports this module
        from resolvers.types.customer import Customer

        if self.customer_key is None:
            return None
        return await Customer.find(loaders, self.customer_key, via=VIA_ORDER)

    @strawberry.field(
        description="Its payments, and refunds from returns in any channel, each once, "
        "oldest first.",
        extensions=[guarded(partner=DENY)],
    )
    async def payments(self, info: Info) -> list[Payment]:
        return await payments_of(info, [(self.record.source, self.record.id)])

    @strawberry.field(
        description="Its returns, in any channel, oldest first (the ERP's return orders "
        "applying to it).",
        extensions=[guarded(partner=DENY)],
        graphql_type=list[Annotated["Return", strawberry.lazy("resolvers.types.returns")]],
    )
    def returns(self, info: Info) -> Ready[list[Return]]:
        from resolvers.types.returns import returns_of

        loads = _returns_loads(info, self.record)
        return when_loaded(loads, lambda *found: returns_of(str(self.id), found))

    @strawberry.field(description="The store of an in-store order.")
    async def location(self, info: Info) -> Location | None:
        return await Location.at(info, self.location_ref)

    @strawberry.field(description="The store an online order is collected at (click & collect).")
    async def pickup(self, info: Info) -> Pickup | None:
        if self.channel == Channel.STORE or self.location_ref is None:
            return None
        place = (await directory(info)).get(self.location_ref)
        if place is None or self.placed_at is None:
            return None
        ready = ready_at(self.placed_at, place.opening_hours)
        return Pickup(location=Location.of(place), ready_at=ready)

    @classmethod
    async def many(
        cls, info: Info, records: Sequence[OrderRecord], under: Sequence[str] = ()
    ) -> list[Order]:
        """Orders with their lines' products. The products' item cards and whatever
        their selected fields read (prices) are started together, so they share one
        round; the products arrive with their cards, so the line's ``product`` and the
        card's fields are plain fields rather than a few hundred async resolvers. The
        orders' returns, where selected, are read in the same round (one ERP read for
        all of them). ``under``: the path from the current field to the orders."""
        skus = list(dict.fromkeys(line.sku for record in records for line in record.lines))
        products: Mapping[str, Product] = {}
        loads = prefetch_returns(info, records, under)
        product_loads = (
            prefetch_products(info, skus, under=(*under, "lines", "product")) if skus else []
        )
        if product_loads:  # none started: the lines' products are not selected
            products = await Product.load_many(info, skus)
        await arrived([*loads, *product_loads])
        return [cls.of(record, products) for record in records]

    @classmethod
    def of(cls, record: OrderRecord, products: Mapping[str, Product]) -> Order:
        return cls(
            id=strawberry.ID(ids.order_id(record.source, record.id)),
            channel=Channel(record.channel),
            placed_at=record.placed_at,
            status=OrderStatus(record.status),
            total=Money.of(record.total),
            lines=[OrderLine.of(record, n, line, products) for n, line in enumerate(record.lines)],
            delivery_address=None
            if record.source != "erp" or record.location_id
            else Address.of(record.ship_to),
            record=record,
            location_ref=ids.location_id("STORE", record.location_id)
            if record.location_id
            else None,
            customer_key={"erp_no" if record.source == "erp" else "pos_customer": ref}
            if (ref := record.customer_ref)
            else None,
        )


def _returns_loads(info: Info, record: OrderRecord) -> list[asyncio.Future[Any]]:
    """The loads of an order's return orders (by the documents they may apply to)."""
    loader = info.context.loaders.erp_returns_of
    return [loader.load(number) for number in returnable.documents(record)]


def prefetch_returns(
    info: Info, records: Sequence[OrderRecord], under: Sequence[str] = ()
) -> list[asyncio.Future[Any]]:
    """Start the orders' returns loads when the selection below them reads them (their
    ``returns``, or a line's ``returnableQuantity``): one round for every order."""
    wanted = selected(info, (*under, "returns")) or selected(
        info, (*under, "lines", "returnableQuantity")
    )
    if not wanted:
        return []
    return [load for record in records for load in _returns_loads(info, record)]
