"""Orders from every channel in one type: ERP online orders and POS store receipts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from adapters.records import OrderLineRecord, OrderRecord
from resolvers import ids
from resolvers.authz import DENY, VIA_ORDER, admit, guarded
from resolvers.context import Info
from resolvers.pickup import ready_at
from resolvers.places import directory
from resolvers.prefetch import arrived, prefetch_products
from resolvers.types.common import Channel, Money
from resolvers.types.location import Location
from resolvers.types.payment import Payment, payments_of
from resolvers.types.product import Product

if TYPE_CHECKING:
    from resolvers.loaders import Loaders
    from resolvers.types.customer import Customer


@strawberry.type
class OrderLine:
    quantity: int
    unit_price: Money | None = strawberry.field(
        description="What one piece was charged, the promotion applied taken off."
    )
    compare_at_unit_price: Money | None = strawberry.field(
        description="One piece's regular price, where a promotion lowered it; else null."
    )
    discount_percent: Decimal | None = strawberry.field(
        description="The promotion applied to this line (the ERP's line discount), if any."
    )
    sku: strawberry.ID
    product: Product

    @classmethod
    def of(cls, line: OrderLineRecord, products: Mapping[str, Product]) -> OrderLine:
        sku = strawberry.ID(line.sku)
        return cls(
            quantity=line.quantity,
            unit_price=Money.of(line.unit_price),
            compare_at_unit_price=Money.of(line.regular_price),
            discount_percent=line.discount_percent,
            sku=sku,
            product=products.get(line.sku) or Product(sku=sku),
        )


@strawberry.type(description="Where and from when a click & collect order can be collected.")
class Pickup:
    location: Location
    ready_at: datetime = strawberry.field(
        description="When the goods wait at the store: two hours after the order, within "
        "the store's opening hours."
    )


@strawberry.type(description="An order from any channel; `channel` says which.")
class Order:
    id: strawberry.ID
    channel: Channel
    placed_at: datetime | None
    status: str | None
    total: Money | None
    lines: list[OrderLine]
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
        system, local = ids.split(str(self.id), ids.ORDER_PREFIXES, "order")
        return await payments_of(info, [(system, local)])

    @strawberry.field(description="The store of an in-store order.")
    async def location(self, info: Info) -> Location | None:
        if self.location_ref is None:
            return None
        place = (await directory(info)).get(self.location_ref)
        return Location.of(place) if place else None

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
    async def many(cls, info: Info, records: Sequence[OrderRecord]) -> list[Order]:
        """Orders with their lines' products. The products' item cards and whatever
        their selected fields read (prices) are started together, so they share one
        round; the products arrive with their cards, so the line's ``product`` and the
        card's fields are plain fields rather than a few hundred async resolvers."""
        skus = list(dict.fromkeys(line.sku for record in records for line in record.lines))
        products: Mapping[str, Product] = {}
        loads = prefetch_products(info, skus, under=("lines", "product")) if skus else []
        if loads:  # none started: the lines' products are not selected
            products = await Product.load_many(info, skus)
            await arrived(loads)
        return [cls.of(record, products) for record in records]

    @classmethod
    def of(cls, record: OrderRecord, products: Mapping[str, Product]) -> Order:
        return cls(
            id=strawberry.ID(ids.make(record.source, record.id)),
            channel=Channel(record.channel),
            placed_at=record.placed_at,
            status=record.status,
            total=Money.of(record.total),
            lines=[OrderLine.of(line, products) for line in record.lines],
            location_ref=ids.location_id("STORE", record.location_id)
            if record.location_id
            else None,
            customer_key={"erp_no" if record.source == "erp" else "pos_customer": ref}
            if (ref := record.customer_ref)
            else None,
        )
