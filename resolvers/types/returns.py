"""Returns: the ERP's sales return orders, whichever channel the goods came back in.

A return is answered in two ways with one type: by ``registerReturn`` (from its saga's
answer: the lines it registered, the refund it planned) and read back from the ERP (an
order's ``returns``, ``node(id:)``: the return order's lines with what has been
received so far).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from adapters.records import OrderRecord, ReturnRecord
from resolvers import ids
from resolvers.context import Info
from resolvers.types.common import Money
from resolvers.types.location import Location
from resolvers.types.node import Node
from resolvers.types.payment import Payment
from resolvers.types.product import Product
from resolvers.types.vocabulary import ReturnStatus

if TYPE_CHECKING:
    from resolvers.types.order import Order


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
    async def order(
        self, info: Info
    ) -> Annotated[Order, strawberry.lazy("resolvers.types.order")] | None:
        from resolvers.types.order import Order

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
