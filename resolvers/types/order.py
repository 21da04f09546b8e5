"""Orders from every channel in one type: ERP online orders and POS store receipts."""

from __future__ import annotations

from datetime import datetime

import strawberry

from adapters.records import OrderLineRecord, OrderRecord
from resolvers import ids
from resolvers.context import Info
from resolvers.places import directory
from resolvers.types.common import Channel, Money
from resolvers.types.location import Location
from resolvers.types.product import Product


@strawberry.type
class OrderLine:
    quantity: int
    unit_price: Money | None
    sku: strawberry.ID

    @strawberry.field
    def product(self) -> Product:
        return Product(sku=self.sku)

    @classmethod
    def of(cls, line: OrderLineRecord) -> OrderLine:
        return cls(
            quantity=line.quantity,
            unit_price=Money.of(line.unit_price),
            sku=strawberry.ID(line.sku),
        )


@strawberry.type(description="An order from any channel; `channel` says which.")
class Order:
    id: strawberry.ID
    channel: Channel
    placed_at: datetime
    status: str | None
    total: Money | None
    lines: list[OrderLine]
    location_ref: strawberry.Private[str | None]

    @strawberry.field(description="The store of an in-store order.")
    async def location(self, info: Info) -> Location | None:
        if self.location_ref is None:
            return None
        place = (await directory(info)).get(self.location_ref)
        return Location.of(place) if place else None

    @classmethod
    def of(cls, record: OrderRecord) -> Order:
        return cls(
            id=strawberry.ID(ids.make(record.source, record.id)),
            channel=Channel(record.channel),
            placed_at=record.placed_at,
            status=record.status,
            total=Money.of(record.total),
            lines=[OrderLine.of(line) for line in record.lines],
            location_ref=ids.location_id("STORE", record.location_id)
            if record.location_id
            else None,
        )
