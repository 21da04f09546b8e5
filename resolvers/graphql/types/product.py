"""Products (ERP item cards) with their channel prices, promotions, stock and availability."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
import strawberry.federation

from adapters.errors import MosaicError
from adapters.records import (
    InTransitRecord,
    LocationRecord,
    PriceRecord,
    ProductRecord,
    PromotionRecord,
    StockRecord,
)
from adapters.records import (
    Money as MoneyRecord,
)
from resolvers.catalogue.places import Point, by_id, point_of
from resolvers.catalogue.pricing import Quote, quote, running, today
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.inputs import SKU, check
from resolvers.graphql.types.common import Channel, ChannelArgument, Money, NearInput, asked_channel
from resolvers.graphql.types.location import Location
from resolvers.graphql.types.node import Node
from resolvers.loading.field_loads import Declared, Load, by_key_and_channel, declare, whole
from resolvers.loading.prefetch import field_reads, product_reads
from resolvers.loading.ready import Ready, when_loaded
from resolvers.privacy.authz import DENY, STOCK_DENIED, When, guarded

ONLINE_CHANNELS = ("WEB", "APP")

# What the Product fields that read beyond the item card may load
# (resolvers/loading/field_loads.py), each in the order its field reads them; stock and
# availability with the rule that picks what their selection needs (product_reads). The
# fields declare them in their metadata.
#: a quoted price: the channel's price and the promotions that may lower it
QUOTE = Declared((Load("price", by_key_and_channel), Load("promotions")))
PROMOTIONS = Declared((Load("promotions"),))
#: every location's stock: counts, shipments on their way, and the places themselves
STOCK = Declared(
    (
        Load("warehouse_stock"),
        Load("store_stock"),
        Load("inbound"),
        Load("stores", whole),
        Load("warehouses", whole),
    ),
    needs=product_reads,
)
#: online in a warehouse, and the stores that have it
AVAILABILITY = Declared(
    (Load("warehouse_stock"), Load("store_stock"), Load("stores", whole)), needs=product_reads
)


@strawberry.type(description="A promotion on a product in a channel (the ERP's line discount).")
class Promotion:
    code: str = strawberry.field(
        description="Its key in the ERP: `<discount group>/<item>/<starting date>`."
    )
    description: str | None = strawberry.field(
        description="Its text, where the ERP keeps one (NAV's line discounts have none)."
    )
    discount_percent: float | None = strawberry.field(description="How much it takes off, %.")
    channel: Channel | None = strawberry.field(description="The channel it runs in.")
    ends: date | None = strawberry.field(description="Its last day; null: no end set.")

    @classmethod
    def of(cls, record: PromotionRecord) -> Promotion:
        return cls(
            code=record.code,
            description=record.description,
            discount_percent=float(record.discount_percent),
            channel=Channel(record.channel),
            ends=record.ends,
        )


@strawberry.type(description="Goods on their way to a location (the WMS's inbound shipments).")
class InTransit:
    quantity: int = strawberry.field(description="Pieces coming.")
    expected_at: datetime | None = strawberry.field(
        description="When they are expected; null where the WMS does not say."
    )


@strawberry.type(description="One location's stock of one product.")
class StockLevel:
    location: Location = strawberry.field(description="The store or warehouse.")
    on_hand: int | None = strawberry.field(description="Pieces there.")
    reserved: int | None = strawberry.field(description="Of those, held for orders.")
    available: int | None = strawberry.field(
        description="Free to sell here: on hand less reserved, and 0 where this location's "
        "channel does not sell the product (stores: STORE; warehouses: WEB, APP); null "
        "while the ERP, which holds the assortment, is down."
    )
    in_transit: list[InTransit] = strawberry.field(description="Goods on their way there.")


@strawberry.type(description="A store that has the product free to sell.")
class StoreAvailability:
    location: Location = strawberry.field(description="The store.")
    available: int = strawberry.field(description="Pieces free to sell there.")
    distance_km: float | None = strawberry.field(
        description="How far it is from `near`, as the crow flies; null without `near`."
    )


@strawberry.type(description="Where a product can be bought: online, and in which stores.")
class Availability:
    online: bool | None = strawberry.field(
        description="Sold online and in stock in a warehouse; null when the WMS is down."
    )
    nearest: list[StoreAvailability] = strawberry.field(
        description="Open stores that sell and have it, nearest first."
    )


def _web_price(info: Info, args: dict[str, Any]) -> bool:
    """Web prices are public (the webshop shows them to everyone); other channels' are not."""
    return asked_channel(args.get("channel"), info.context.channel) == "WEB"


@strawberry.federation.type(keys=["sku"], description="A product from the ERP's item master.")
class Product(Node):
    """Made with its item card already loaded (or the ERP's failure to give it), so the
    card's fields are plain synchronous fields: an async resolver costs about ten times
    a plain one in graphql-core, and a listing has hundreds of them."""

    sku: strawberry.ID = strawberry.field(description="The ERP's item number.")
    item: strawberry.Private[ProductRecord | None] = None
    failure: strawberry.Private[MosaicError | None] = None

    @classmethod
    async def load(cls, info: Info, sku: str) -> Product:
        """The product with its item card from the request's loaders; when the ERP is
        down, a product whose card fields carry the ERP's error."""
        try:
            return cls(sku=strawberry.ID(sku), item=await info.context.loaders.item.load(sku))
        except MosaicError as error:
            return cls(sku=strawberry.ID(sku), failure=error)

    @classmethod
    async def load_many(cls, info: Info, skus: Sequence[str]) -> dict[str, Product]:
        """Products by SKU with their item cards, in one load; all carrying the ERP's
        failure when it is down."""
        try:
            items = await info.context.loaders.item.load_many(list(skus))
        except MosaicError as error:
            return {sku: cls(sku=strawberry.ID(sku), failure=error) for sku in skus}
        return {
            sku: cls(sku=strawberry.ID(sku), item=item)
            for sku, item in zip(skus, items, strict=True)
        }

    @classmethod
    async def resolve_reference(cls, info: Info, sku: strawberry.ID) -> Product:
        """A federation router's entity lookup: every product of one ``_entities`` call
        shares one ERP batch through the request's loaders."""
        check(str(sku), SKU, ["sku"])  # a representation is a client's text, like an argument
        return await cls.load(info, str(sku))

    @strawberry.field(description="The product's global id (`product:<sku>`), for `node(id:)`.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(ids.product_id(str(self.sku)))

    def _card(self) -> ProductRecord | None:
        if self.failure is not None:
            raise self.failure
        return self.item

    def _card_or_report(self, info: Info) -> ProductRecord | None:
        """The item card for a field that can answer without it (stock, availability):
        the ERP's failure is reported on that field, which still answers."""
        if self.failure is not None:
            info.context.report(info, self.failure)
        return self.item

    @strawberry.field(description="What it is called (the ERP's description).")
    def name(self) -> str | None:
        item = self._card()
        return item.name if item else None

    @strawberry.field(description="Its brand, where the ERP keeps one (a mapped field).")
    def brand(self) -> str | None:
        item = self._card()
        return item.brand if item else None

    @strawberry.field(
        description="Its item category's code (`categories` lists them; `productSearch` takes one)."
    )
    def category(self) -> str | None:
        item = self._card()
        return item.category if item else None

    @strawberry.field(description="EAN-13 barcode.")
    def gtin(self) -> str | None:
        item = self._card()
        return item.gtin if item else None

    @strawberry.field(description="The channels that sell this product (the assortment).")
    def channels(self) -> list[Channel]:
        item = self._card()
        return [Channel(c) for c in item.channels] if item else []

    @strawberry.field(
        description="What the channel charges today for one piece: its ERP sales price "
        "(else the list price) less the channel's running promotion, to the cent; what "
        "placeOrder charges (DESIGN: Prices).",
        extensions=[guarded(anonymous=When(_web_price, "in another channel than WEB"))],
        graphql_type=Money | None,
        metadata=declare(QUOTE),
    )
    def price(self, info: Info, channel: ChannelArgument = None) -> Ready[Money | None]:
        return self._quoted(info, channel, lambda q: q.charged)

    @strawberry.field(
        description="The channel's regular price, where a running promotion lowers it "
        "(shown struck through beside price); null when nothing lowers it.",
        extensions=[guarded(anonymous=When(_web_price, "in another channel than WEB"))],
        graphql_type=Money | None,
        metadata=declare(QUOTE),
    )
    def compare_at_price(self, info: Info, channel: ChannelArgument = None) -> Ready[Money | None]:
        return self._quoted(info, channel, lambda q: q.compare_at)

    def _quoted(
        self, info: Info, channel: Channel | None, part: Callable[[Quote], MoneyRecord | None]
    ) -> Ready[Money | None]:
        wanted = asked_channel(channel, info.context.channel)
        loaders, sku = info.context.loaders, str(self.sku)

        def answer(price: PriceRecord | None, promotions: list[PromotionRecord]) -> Money | None:
            item = self._card() if price is None else self.item
            found = quote(item, price, promotions, wanted, today())
            return Money.of(part(found)) if found else None

        return when_loaded([load.one(loaders, sku, wanted) for load in QUOTE.loads], answer)

    @strawberry.field(
        description="Promotions running today in the channel.",
        graphql_type=list[Promotion],
        metadata=declare(PROMOTIONS),
    )
    def promotions(self, info: Info, channel: ChannelArgument = None) -> Ready[list[Promotion]]:
        wanted = asked_channel(channel, info.context.channel)

        def listed(records: list[PromotionRecord]) -> list[Promotion]:
            return [Promotion.of(p) for p in running(records, wanted, today())]

        loaders, sku = info.context.loaders, str(self.sku)
        return when_loaded([load.one(loaders, sku, wanted) for load in PROMOTIONS.loads], listed)

    @strawberry.field(
        description="Every location's stock: warehouses (WMS) and stores (POS); with "
        "`inTransit` selected, also each location awaiting goods it has none of. Only what "
        "the selection shows is read: a location's id and kind come with its stock, its "
        "other fields from the store and warehouse lists.",
        extensions=[guarded(**dict.fromkeys(STOCK_DENIED, DENY))],
        graphql_type=list[StockLevel],
        metadata=declare(STOCK),
    )
    def stock(self, info: Info) -> Ready[list[StockLevel]]:
        loaders, sku = info.context.loaders, str(self.sku)
        selling = _selling_kinds(self._card_or_report(info))
        reads = field_reads(info, STOCK)

        def levels(
            warehouse: list[StockRecord] | None,
            store: list[StockRecord] | None,
            inbound: list[InTransitRecord] | None,
            *locations: list[LocationRecord] | None,
        ) -> list[StockLevel]:
            places = loaders.indexed(by_id, *locations) if "stores" in reads else None
            return _levels(selling, warehouse, store, inbound, places)

        channel = info.context.channel  # the same stock in every channel
        return when_loaded(
            [load.one_if(reads, loaders, sku, channel) for load in STOCK.loads],
            levels,
            partial=info,
        )

    @strawberry.field(
        description="Whether it can be bought online, and the nearest open stores that have "
        "it; null when `near` or `limit` is refused (an unknown postal code, say).",
        graphql_type=Availability | None,
        metadata=declare(AVAILABILITY),
    )
    def availability(
        self,
        info: Info,
        near: Annotated[
            NearInput | None,
            strawberry.argument(description="Where the shopper is: stores nearest first."),
        ] = None,
        limit: Annotated[int, strawberry.argument(description="How many stores, at most.")] = 3,
        channel: ChannelArgument = None,
    ) -> Ready[Availability]:
        point = point_of(near)
        loaders, sku = info.context.loaders, str(self.sku)
        item = self._card_or_report(info)
        wanted = asked_channel(channel, info.context.channel)
        reads = field_reads(info, AVAILABILITY)

        def available(
            warehouse: list[StockRecord] | None,
            store: list[StockRecord] | None,
            stores: list[LocationRecord] | None,
        ) -> Availability:
            places = loaders.indexed(by_id, stores)
            return _availability(item, wanted, point, limit, warehouse, store, places)

        return when_loaded(
            [load.one_if(reads, loaders, sku, wanted) for load in AVAILABILITY.loads],
            available,
            partial=info,
        )


def _levels(
    selling: set[str] | None,
    warehouse: list[StockRecord] | None,
    store: list[StockRecord] | None,
    inbound: list[InTransitRecord] | None,
    places: dict[str, LocationRecord] | None,
) -> list[StockLevel]:
    """Each location's level, with what is on its way there; a location that has none
    of it but awaits a shipment is listed too (when shipments were read). ``places``:
    the directory, where the selection needs it (else None: each location is known by
    its id alone, and none is left out for being missing from a directory)."""
    transit: dict[str, list[InTransit]] = {}
    for shipment in inbound or ():
        transit.setdefault(_location_of(shipment.location_id, places or {}), []).append(
            InTransit(quantity=shipment.quantity, expected_at=shipment.expected_at)
        )
    levels = []
    for kind, counts in (("WAREHOUSE", warehouse), ("STORE", store)):
        sold = selling is not None and kind in selling
        located: dict[str, tuple[str, Location]] = {}  # a stock check: 1,400 counts, 28 places
        for count in counts or ():
            place = located.get(count.location_id)
            if place is None:
                global_id = ids.location_id(kind, count.location_id)
                if places is None:
                    place = (global_id, Location.known_by_id(kind, global_id))
                elif global_id in places:
                    place = (global_id, Location.of(places[global_id]))
                else:
                    continue
                located[count.location_id] = place
            global_id, location = place
            free = count.on_hand - count.reserved
            levels.append(
                StockLevel(
                    location=location,
                    on_hand=count.on_hand,
                    reserved=count.reserved,
                    available=None if selling is None else (free if sold and free > 0 else 0),
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
        if places is not None and gid in places
    )
    return levels


def _availability(
    item: ProductRecord | None,
    wanted: str,
    point: Point | None,
    limit: int,
    warehouse: list[StockRecord] | None,
    store: list[StockRecord] | None,
    places: dict[str, LocationRecord],
) -> Availability:
    """Online: sold in the channel and free in a warehouse; nearest: the open stores
    that sell it and have it free, nearest first (most free first where no point)."""
    sold = set(item.channels) if item else set()
    online = None
    if warehouse is not None and item is not None:
        online = (
            wanted in ONLINE_CHANNELS
            and wanted in sold
            and any(r.on_hand - r.reserved > 0 for r in warehouse)
        )
    candidates: list[tuple[float, int, LocationRecord]] = []
    if "STORE" in sold:
        for count in store or ():
            place = places.get(ids.location_id("STORE", count.location_id))
            free = count.on_hand - count.reserved
            if place is not None and place.active and free > 0:
                candidates.append((point.km_to(place) if point else 0.0, -free, place))
    candidates.sort(key=lambda c: c[:2])
    return Availability(
        online=online,
        nearest=[
            StoreAvailability(
                location=Location.of(place),
                available=-minus_free,
                distance_km=km if point and math.isfinite(km) else None,
            )
            for km, minus_free, place in candidates[: max(limit, 0)]
        ],
    )


def _selling_kinds(item: ProductRecord | None) -> set[str] | None:
    """The kinds of location whose stock is for sale, by the item's assortment: stores
    sell for STORE, warehouses for the online channels. None: the assortment is unknown."""
    if item is None:
        return None
    kinds = {"STORE"} if "STORE" in item.channels else set()
    if set(item.channels) & set(ONLINE_CHANNELS):
        kinds.add("WAREHOUSE")
    return kinds


def _location_of(local_id: str, places: Mapping[str, object]) -> str:
    """The global id of a shipment's destination, which may be a warehouse or a store."""
    for kind in ("WAREHOUSE", "STORE"):
        global_id = ids.location_id(kind, local_id)
        if global_id in places:
            return global_id
    return ids.location_id("WAREHOUSE", local_id)
