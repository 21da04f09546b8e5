"""Orders from every channel in one type: ERP online orders and POS store receipts; and
their returns, the ERP's sales return orders, whichever channel the goods came back in.
An order lists its returns and a return names its order, so the two types live in one
module.

A return is answered in two ways with one type: by ``registerReturn`` (from its saga's
answer: the lines it registered, the refund it planned) and read back from the ERP (an
order's ``returns``, ``node(id:)``: the return order's lines with what has been
received so far).

Who placed an order is found through the request's context (``MosaicContext.customers``,
the Customer type the gateway passes in): a customer lists their orders, so the
customer's module imports this one and this one cannot import it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from adapters.records import OrderLineRecord, OrderRecord, ReturnRecord
from resolvers.catalogue.places import directory
from resolvers.commerce import returnable
from resolvers.commerce.pickup import ready_at
from resolvers.golden.identity import PersonalRecord
from resolvers.graphql import ids
from resolvers.graphql.context import Info, MosaicContext
from resolvers.graphql.types.common import Address, Channel, Money
from resolvers.graphql.types.location import Location
from resolvers.graphql.types.node import Node
from resolvers.graphql.types.payment import Payment, payments_of
from resolvers.graphql.types.product import Product
from resolvers.graphql.types.vocabulary import OrderStatus, ReturnStatus
from resolvers.loading.prefetch import arrived, prefetch_products, selected
from resolvers.loading.ready import Ready, when_loaded
from resolvers.privacy.authz import DENY, VIA_ORDER, admit, guarded

#: The Customer type by name, for the schema, which resolves it when it is built: a
#: customer lists their orders, so that module imports this one and never the reverse
#: (a value for the schema, not a type for checkers: they know the Python side as a
#: PersonalRecord).
PLACED_BY: Any = Annotated["Customer", strawberry.lazy("resolvers.graphql.types.customer")]  # noqa: F821


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


@strawberry.type(description="Pieces of one SKU coming back.")
class ReturnLine:
    sku: strawberry.ID = strawberry.field(description="The product's SKU.")
    quantity: int = strawberry.field(description="Pieces coming back.")
    received: int | None = strawberry.field(
        description="Pieces the retailer has received so far (the ERP's Return Qty. "
        "Received); null on a return just registered."
    )
    unit_refund: Money | None = strawberry.field(
        description="What one piece pays back: what the customer paid for it."
    )
    reason: str | None = strawberry.field(description="The ERP's return reason code, if any.")

    @strawberry.field(description="The product coming back.")
    async def product(self, info: Info) -> Product:
        return await Product.load(info, str(self.sku))


@strawberry.type(description="A return: the ERP's return order with the refund it books.")
class Return(Node):
    id: strawberry.ID = strawberry.field(
        description="The return's global id (`return:erp:<return order no.>`)."
    )
    status: ReturnStatus | None = strawberry.field(
        description="How far the return is: from the ERP's return order (DECISIONS.md)."
    )
    refund: Money | None = strawberry.field(
        description="What is paid back: what the customer paid for the lines (promotions "
        "taken off), at most what is left of what the order's payments took; read back "
        "from the ERP, the return order's total."
    )
    refund_payment: Payment | None = strawberry.field(
        default=None,
        description="The refund as money moving, as `registerReturn` answers it: against "
        "the payment it refunds (refundOf), by that payment's method. A store receipt's "
        "is paid at the till (COMPLETED); an online order's is PENDING until the ERP posts "
        "the return order. Null on a return read back from the ERP: its order's payments "
        "show the refund once it is posted.",
    )
    lines: list[ReturnLine] = strawberry.field(
        default_factory=list, description="What comes back, line by line."
    )
    registered_at: datetime | None = strawberry.field(
        default=None, description="When the return was registered (the ERP's document date)."
    )
    location_ref: strawberry.Private[str | None] = None
    # the global id of the order the goods came from, where known; else found from
    # the document the return order applies to
    order_id: strawberry.Private[str | None] = None
    record: strawberry.Private[ReturnRecord | None] = None

    @strawberry.field(description="The store the goods came back at; null: by post.")
    async def location(self, info: Info) -> Location | None:
        return await Location.at(info, self.location_ref)

    @strawberry.field(description="The order the goods came from, as it is now.")
    async def order(self, info: Info) -> Order | None:
        record = await _order_of(info, self.order_id, self.record)
        return (await Order.many(info, [record]))[0] if record else None

    @classmethod
    def of(cls, record: ReturnRecord, order_id: str | None = None) -> Return:
        """A return order read back from the ERP."""
        return cls(
            id=strawberry.ID(ids.return_id(record.id)),
            status=ReturnStatus(record.status),
            refund=Money.of(record.total),
            lines=[
                ReturnLine(
                    sku=strawberry.ID(line.sku),
                    quantity=line.quantity,
                    received=line.delivered,
                    unit_refund=Money.of(line.unit_price),
                    reason=reason,
                )
                for line, reason in zip(record.lines, record.reasons, strict=False)
            ],
            registered_at=record.registered_at,
            location_ref=ids.location_id("STORE", record.location_id)
            if record.location_id
            else None,
            order_id=order_id,
            record=record,
        )


async def _order_of(
    info: Info, order_id: str | None, record: ReturnRecord | None
) -> OrderRecord | None:
    """The order a return came from: by its id where known, else by the document its
    return order applies to (a posted invoice, an order's number, or a store receipt)."""
    loaders = info.context.loaders
    found: OrderRecord | None
    if order_id is not None:
        system, local = ids.order_key(order_id)
        found = await (loaders.erp_order if system == "erp" else loaders.pos_order).load(local)
        return found
    if record is None or record.applies_to is None:
        return None
    if record.applies_to_invoice:
        found = await loaders.erp_order_by_invoice.load(record.applies_to)
        return found
    found = await loaders.erp_order.load(record.applies_to)
    if found is None:  # no order of that number: a store receipt's return
        found = await loaders.pos_order.load(record.applies_to)
    return found


def returns_of(order_id: str, found: Sequence[Sequence[ReturnRecord]]) -> list[Return]:
    """An order's returns, oldest first, from what its documents' loads found."""
    records = {back.id: back for backs in found for back in backs}
    ordered = sorted(records.values(), key=lambda r: r.id)
    return [Return.of(record, order_id) for record in ordered]


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
        "customer's fields are guarded as on every other path to a customer.",
        graphql_type=PLACED_BY | None,
    )
    async def customer(self, info: Info) -> PersonalRecord | None:
        return await admit(info, await self.placed_by(info.context), "who placed it")

    async def placed_by(self, context: MosaicContext) -> PersonalRecord | None:
        """The customer who placed it, found by the context's Customer type."""
        if self.customer_key is None:
            return None
        return await context.customers.find(context.loaders, self.customer_key, VIA_ORDER)

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
        graphql_type=list[Return],
    )
    def returns(self, info: Info) -> Ready[list[Return]]:
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
