"""Products (ERP item cards) with their channel prices, promotions, stock and availability."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from adapters.records import ProductRecord, PromotionRecord, StockRecord
from resolvers import ids
from resolvers.context import Info, settle
from resolvers.places import directory, point_of, stores
from resolvers.types.common import Channel, Money, NearInput, asked_channel
from resolvers.types.location import Location

ONLINE_CHANNELS = ("WEB", "APP")


@strawberry.type
class Promotion:
    code: str
    description: str | None
    discount_percent: float | None
    channel: Channel | None
    ends: date | None

    @classmethod
    def of(cls, record: PromotionRecord) -> Promotion:
        return cls(
            code=record.code,
            description=record.description,
            discount_percent=float(record.discount_percent),
            channel=Channel(record.channel),
            ends=record.ends,
        )


@strawberry.type
class InTransit:
    quantity: int
    expected_at: datetime | None


@strawberry.type(description="One location's stock of one product.")
class StockLevel:
    location: Location
    on_hand: int | None
    reserved: int | None
    available: int | None
    in_transit: list[InTransit]


@strawberry.type
class StoreAvailability:
    location: Location
    available: int
    distance_km: float | None


@strawberry.type
class Availability:
    online: bool | None = strawberry.field(
        description="Sold online and in stock in a warehouse; null when the WMS is down."
    )
    nearest: list[StoreAvailability] = strawberry.field(
        description="Open stores that sell and have it, nearest first."
    )


@strawberry.type(description="A product from the ERP's item master.")
class Product:
    sku: strawberry.ID

    @strawberry.field
    async def name(self, info: Info) -> str | None:
        item = await _item(info, self.sku)
        return item.name if item else None

    @strawberry.field
    async def brand(self, info: Info) -> str | None:
        item = await _item(info, self.sku)
        return item.brand if item else None

    @strawberry.field
    async def category(self, info: Info) -> str | None:
        item = await _item(info, self.sku)
        return item.category if item else None

    @strawberry.field(description="EAN-13 barcode.")
    async def gtin(self, info: Info) -> str | None:
        item = await _item(info, self.sku)
        return item.gtin if item else None

    @strawberry.field(description="The channels that sell this product (the assortment).")
    async def channels(self, info: Info) -> list[Channel]:
        item = await _item(info, self.sku)
        return [Channel(c) for c in item.channels] if item else []

    @strawberry.field(
        description="What the channel charges today: its ERP sales price, else the list price."
    )
    async def price(self, info: Info, channel: Channel | None = None) -> Money | None:
        loaders = info.context.loaders
        key = (str(self.sku), asked_channel(channel, info.context.channel))
        price, item = await settle(info, loaders.price.load(key), loaders.item.load(str(self.sku)))
        if price is not None:
            return Money.of(price.price)
        return Money.of(item.list_price) if item else None

    @strawberry.field(description="Promotions running today in the channel.")
    async def promotions(self, info: Info, channel: Channel | None = None) -> list[Promotion]:
        wanted = asked_channel(channel, info.context.channel)
        today = date.today()
        records = await info.context.loaders.promotions.load(str(self.sku))
        return [
            Promotion.of(p)
            for p in records
            if p.channel == wanted
            and (p.starts is None or p.starts <= today)
            and (p.ends is None or today <= p.ends)
        ]

    @strawberry.field(description="Every location's stock: warehouses (WMS) and stores (POS).")
    async def stock(self, info: Info) -> list[StockLevel]:
        loaders, sku = info.context.loaders, str(self.sku)
        warehouse, store, inbound, places = await settle(
            info,
            loaders.warehouse_stock.load(sku),
            loaders.store_stock.load(sku),
            loaders.inbound.load(sku),
            directory(info),
        )
        transit: dict[str, list[InTransit]] = {}
        for shipment in inbound or ():
            transit.setdefault(_location_of(shipment.location_id, places), []).append(
                InTransit(quantity=shipment.quantity, expected_at=shipment.expected_at)
            )
        levels = []
        counts: list[tuple[str, StockRecord]] = [
            *(("WAREHOUSE", r) for r in warehouse or ()),
            *(("STORE", r) for r in store or ()),
        ]
        for kind, count in counts:
            global_id = ids.location_id(kind, count.location_id)
            if global_id in places:
                levels.append(
                    StockLevel(
                        location=Location.of(places[global_id]),
                        on_hand=count.on_hand,
                        reserved=count.reserved,
                        available=max(count.on_hand - count.reserved, 0),
                        in_transit=transit.pop(global_id, []),
                    )
                )
        levels.extend(
            StockLevel(
                location=Location.of(places[gid]),
                on_hand=0,
                reserved=0,
                available=0,
                in_transit=shipments,
            )
            for gid, shipments in transit.items()
            if gid in places
        )
        return levels

    @strawberry.field(
        description="Whether it can be bought online, and the nearest open stores that have it."
    )
    async def availability(
        self,
        info: Info,
        near: NearInput | None = None,
        limit: int = 3,
        channel: Channel | None = None,
    ) -> Availability:
        point = point_of(near)
        loaders, sku = info.context.loaders, str(self.sku)
        item, warehouse, store, places = await settle(
            info,
            loaders.item.load(sku),
            loaders.warehouse_stock.load(sku),
            loaders.store_stock.load(sku),
            stores(info),
        )
        wanted = asked_channel(channel, info.context.channel)
        sold = set(item.channels) if item else set()
        online = None
        if warehouse is not None and item is not None:
            online = (
                wanted in ONLINE_CHANNELS
                and wanted in sold
                and any(r.on_hand - r.reserved > 0 for r in warehouse)
            )
        nearest = []
        if "STORE" in sold:
            for count in store or ():
                place = places.get(ids.location_id("STORE", count.location_id))
                free = count.on_hand - count.reserved
                if place is not None and place.active and free > 0:
                    nearest.append(
                        StoreAvailability(
                            location=Location.of(place),
                            available=free,
                            distance_km=point.km_to(place) if point else None,
                        )
                    )
        nearest.sort(key=lambda s: (s.distance_km is None, s.distance_km or 0, -s.available))
        return Availability(online=online, nearest=nearest[: max(limit, 0)])


def _location_of(local_id: str, places: dict[str, object]) -> str:
    """The global id of a shipment's destination, which may be a warehouse or a store."""
    for kind in ("WAREHOUSE", "STORE"):
        global_id = ids.location_id(kind, local_id)
        if global_id in places:
            return global_id
    return ids.location_id("WAREHOUSE", local_id)


async def _item(info: Info, sku: str) -> ProductRecord | None:
    item: ProductRecord | None = await info.context.loaders.item.load(str(sku))
    return item
