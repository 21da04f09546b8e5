"""``placeOrder``: check and plan an order, then place it as a saga.

Planning reads (live where it matters: stock) and decides everything the saga will
do, so a saga replayed after a crash does exactly what was planned:

- the customer's ERP account (orders live in the ERP under it), each line's item (it
  exists, is not blocked, is sold in the channel) and price (the channel's sales price
  in force, else the list price);
- click & collect: the store must exist and be open, and have the lines free in stock;
  the goods are then held there (the POS moves them from IN_STOCK to
  RESERVED_FOR_SALE);
- delivery: from the nearest location (an open store or a warehouse) to the postal
  code that has every line free; else split, each line from the nearest location that
  has it; a warehouse's goods are held with a WMS reservation, a store's in the POS.

The saga then holds the goods, one step per location, and only then creates the
sales order in the ERP (its reference in ``External_Document_No``). Holding first is
what keeps contention clean: when many orders race for a store's last piece, the
losers are refused at the hold (under its lease: ``resolvers/commerce/holds.py``) before
they have written anything, so no sales order is created only to be deleted again. A
later failure undoes what was done: the holds are released, and an ERP order that may
have been created is deleted, as NAV cancels an order nothing was shipped from (it has
no cancelled status). Refusals found while planning come back in the payload's
``errors`` and nothing is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from adapters.erp.writes import ErpWrites, NewDocument
from adapters.errors import BadUserInput, PayloadCode
from adapters.pos import IN_STOCK, RESERVED, StockMove
from adapters.records import (
    Address,
    LocationRecord,
    Money,
    OrderLineRecord,
    OrderRecord,
    StockRecord,
    discounted,
)
from geodata import locate
from resolvers.catalogue.places import Point
from resolvers.catalogue.pricing import quote, today
from resolvers.commerce.holds import Invalidate, StoreHolds, occurred_at, wms_hold, wms_unhold
from resolvers.commerce.sagas import Json, Results, SagaLog, Step
from resolvers.golden.identity import start_keys_of_id
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.types.order import Order
from resolvers.graphql.types.product import Product
from resolvers.graphql.types.writes import AddressInput, OrderLineInput, PlaceOrderInput, UserError
from resolvers.loading.sources import Sources

#: the saga log's index of placing sagas by the ERP order's number
PLACED = "placed_order"
MAX_LINES = 50
MAX_QUANTITY = 999
Location = tuple[str, str]  # (kind, the owning system's id)


def refusal(code: PayloadCode, message: str, *path: str | int) -> UserError:
    return UserError(code=code, message=message, field=[str(p) for p in path] or None)


def order_reference(plan: Json) -> str:
    """The order's number in Mosaic, kept in the ERP's External_Document_No (35 chars)."""
    return "MOS-" + str(plan["saga_id"])[:24]


def merged_lines(
    lines: Sequence[OrderLineInput], max_quantity: int = MAX_QUANTITY
) -> tuple[dict[str, int], list[UserError]]:
    """Quantities per SKU (a SKU on two lines counts once, added up), and bad lines."""
    errors: list[UserError] = []
    if not lines:
        errors.append(refusal(PayloadCode.INVALID_INPUT, "at least one line is needed", "lines"))
    if len(lines) > MAX_LINES:
        errors.append(refusal(PayloadCode.INVALID_INPUT, f"at most {MAX_LINES} lines", "lines"))
    wanted: dict[str, int] = {}
    for n, line in enumerate(lines):
        if not 1 <= line.quantity <= max_quantity:
            message = f"quantity must be 1 to {max_quantity}"
            errors.append(refusal(PayloadCode.INVALID_QUANTITY, message, "lines", n, "quantity"))
        wanted[str(line.sku)] = wanted.get(str(line.sku), 0) + line.quantity
    return wanted, errors


def check_key(key: str) -> list[UserError]:
    if not key.strip() or len(key) > 200:
        return [refusal(PayloadCode.INVALID_INPUT, "idempotencyKey must be 1 to 200 characters")]
    return []


def fingerprint_of(request: PlaceOrderInput) -> Json:
    address = request.delivery_address
    return {
        "customer": str(request.customer_id),
        "channel": request.channel.value,
        "lines": sorted((str(line.sku), line.quantity) for line in request.lines),
        "pickup": str(request.pickup_location_id) if request.pickup_location_id else None,
        "delivery": None
        if address is None
        else [address.postal_code, address.street, address.city, address.country],
    }


async def plan_order(
    info: Info, sources: Sources, request: PlaceOrderInput
) -> tuple[Json | None, list[UserError]]:
    """What the saga will do, or why the order cannot be placed."""
    wanted, errors = merged_lines(request.lines)
    errors += check_key(request.idempotency_key)
    if (request.pickup_location_id is None) == (request.delivery_address is None):
        message = "give either pickupLocationId (click & collect) or deliveryAddress"
        errors.append(refusal(PayloadCode.INVALID_INPUT, message))
    if errors:
        return None, errors
    channel = request.channel.value
    customer_no, errors = await _erp_account(info, str(request.customer_id))
    lines, line_errors = await _priced_lines(info, wanted, channel)
    errors += line_errors
    if errors or customer_no is None:
        return None, errors
    if request.pickup_location_id is not None:
        pickup, shipments, errors = await _pickup(info, sources, request.pickup_location_id, wanted)
    else:
        address = request.delivery_address
        assert address is not None
        pickup = None
        if (address.country or "NL").upper() != "NL":
            message = "orders are delivered in the Netherlands only"
            return None, [
                refusal(PayloadCode.NOT_DELIVERED_THERE, message, "deliveryAddress", "country")
            ]
        shipments, errors = await _delivery(info, sources, address.postal_code, wanted)
    if errors:
        return None, errors
    plan: Json = {
        "customer_no": customer_no,
        "channel": channel,
        "lines": lines,
        "pickup": pickup,
        "shipments": shipments,
        "delivery_address": _address_of(request.delivery_address),
    }
    return plan, []


def _address_of(address: AddressInput | None) -> Json | None:
    """A delivery address as the plan keeps it (JSON), for the ERP order's Ship-to."""
    if address is None:
        return None
    return {
        "street": address.street,
        "city": address.city,
        "postal_code": address.postal_code,
        "country": (address.country or "NL").upper(),
    }


def _ship_to(kept: Json | None) -> Address | None:
    """The plan's delivery address (plans logged before it was kept have none)."""
    return Address(**kept) if kept else None


async def _erp_account(info: Info, customer_id: str) -> tuple[str | None, list[UserError]]:
    # imported here: the customer type lists orders, whose module this one imports
    from resolvers.graphql.types.customer import Customer

    try:
        known = start_keys_of_id(customer_id)
    except BadUserInput as error:
        return None, [refusal(PayloadCode.UNKNOWN_CUSTOMER, error.message, "customerId")]
    customer = await Customer.find(info.context.loaders, known)
    if customer is None:
        return None, [
            refusal(PayloadCode.UNKNOWN_CUSTOMER, f"no customer {customer_id}", "customerId")
        ]
    erp_no: str | None = await customer.identity.key("erp_no")
    if erp_no is None:
        message = "the customer has no account in the ERP to order on"
        return None, [refusal(PayloadCode.NO_ERP_ACCOUNT, message, "customerId")]
    return erp_no, []


async def _priced_lines(
    info: Info, wanted: dict[str, int], channel: str
) -> tuple[list[Json], list[UserError]]:
    """Each line at what ``Product.price`` shows for the channel today (the one price
    engine, ``resolvers/catalogue/pricing.py``): the regular price and the promotion's
    percentage, which the ERP's sales line gets as its Unit Price and Line Discount
    %."""
    loaders = info.context.loaders
    skus = list(wanted)
    items, prices, promotions = await asyncio.gather(
        loaders.item.load_many(skus),
        loaders.price.load_many([(s, channel) for s in skus]),
        loaders.promotions.load_many(skus),
    )
    day = today()
    lines: list[Json] = []
    errors: list[UserError] = []
    for sku, item, price, offers in zip(skus, items, prices, promotions, strict=True):
        if item is None:
            errors.append(refusal(PayloadCode.UNKNOWN_SKU, f"no product {sku}", "lines"))
            continue
        found = quote(item, price, offers, channel, day)
        if item.blocked or channel not in item.channels or found is None:
            errors.append(
                refusal(PayloadCode.NOT_SOLD, f"{sku} is not sold in the {channel} channel")
            )
            continue
        promotion = found.promotion if found.compare_at else None
        lines.append(
            {
                "sku": sku,
                "quantity": wanted[sku],
                "price": str(found.regular.amount),
                "currency": found.regular.currency,
                "discount": str(promotion.discount_percent) if promotion else None,
                "promotion": promotion.code if promotion else None,
            }
        )
    return lines, errors


def _free(records: list[StockRecord]) -> dict[tuple[str, str], int]:
    """Free stock per (location, sku)."""
    return {(r.location_id, r.sku): r.on_hand - r.reserved for r in records}


def _short(free: dict[tuple[str, str], int], location: str, wanted: dict[str, int]) -> list[str]:
    return [sku for sku, n in wanted.items() if free.get((location, sku), 0) < n]


async def _pickup(
    info: Info, sources: Sources, location_id: str, wanted: dict[str, int]
) -> tuple[Json | None, list[Json], list[UserError]]:
    try:
        prefix, local = ids.split(location_id, ("store", "warehouse"), "location")
    except BadUserInput as error:
        return None, [], [refusal(PayloadCode.UNKNOWN_LOCATION, error.message, "pickupLocationId")]
    stores = {s.id: s for s in await info.context.loaders.all_stores()}
    store: LocationRecord | None = stores.get(local) if prefix == "store" else None
    if store is None:
        message = f"{location_id} is not a store to pick up at"
        return None, [], [refusal(PayloadCode.UNKNOWN_LOCATION, message, "pickupLocationId")]
    if not store.active:
        message = f"{store.name} is closed"
        return None, [], [refusal(PayloadCode.STORE_CLOSED, message, "pickupLocationId")]
    free = _free(await sources.pos.stock(list(wanted), [local]))
    short = _short(free, local, wanted)
    if short:
        message = f"{store.name} has too little of {', '.join(short)}"
        return None, [], [refusal(PayloadCode.INSUFFICIENT_STOCK, message, "lines")]
    return {"location": local}, [_shipment("STORE", local, wanted)], []


async def _delivery(
    info: Info, sources: Sources, postal_code: str, wanted: dict[str, int]
) -> tuple[list[Json], list[UserError]]:
    area = locate(postal_code)
    if area is None:
        message = f"{postal_code!r} is not a known Dutch postal code"
        return [], [
            refusal(PayloadCode.INVALID_POSTAL_CODE, message, "deliveryAddress", "postalCode")
        ]
    loaders, skus = info.context.loaders, list(wanted)
    stores, warehouses, store_stock, warehouse_stock = await asyncio.gather(
        loaders.all_stores(),
        loaders.all_warehouses(),
        sources.pos.stock(skus),
        sources.wms.stock(skus),
    )
    places = [p for p in [*stores, *warehouses] if p.active]
    places.sort(key=Point(area.lat, area.lon).km_to)
    free = _free([*store_stock, *warehouse_stock])
    whole = next((p for p in places if not _short(free, p.id, wanted)), None)
    if whole is not None:
        return [_shipment(whole.kind, whole.id, wanted)], []
    split: dict[LocationRecord, dict[str, int]] = {}
    for sku, n in wanted.items():
        place = next((p for p in places if free.get((p.id, sku), 0) >= n), None)
        if place is None:
            return [], [
                refusal(PayloadCode.INSUFFICIENT_STOCK, f"too little of {sku} anywhere", "lines")
            ]
        split.setdefault(place, {})[sku] = n
    return [_shipment(p.kind, p.id, lines) for p, lines in split.items()], []


def _shipment(kind: str, location: str, lines: dict[str, int]) -> Json:
    return {"kind": kind, "location": location, "lines": lines}


class PlaceOrder:
    """The saga: the goods held where they ship from, then the ERP's sales order."""

    kind = "place_order"

    def __init__(
        self, sources: Sources, erp: ErpWrites, invalidate: Invalidate, log: SagaLog
    ) -> None:
        self.sources = sources
        self.erp = erp
        self.invalidate = invalidate
        self.log = log
        self.stores = StoreHolds(sources, invalidate, log)

    def steps(self, plan: Json) -> Sequence[Step]:
        holds = [
            Step(f"hold:{s['location']}", self._hold(s), self.release(s)) for s in plan["shipments"]
        ]
        return [
            *holds,
            Step("erp_order", self._create, self._cancel),
            Step("known_by_number", self._index),
        ]

    def answer(self, plan: Json, results: Results) -> Json:
        return {**results["erp_order"], "plan": plan}

    async def _create(self, plan: Json, results: Results) -> Json:
        pickup = plan["pickup"]
        document = await self.erp.create(
            "orders",
            NewDocument(
                reference=order_reference(plan),
                customer_no=plan["customer_no"],
                channel=plan["channel"],
                location_code=pickup["location"] if pickup else None,
                ship_to=_ship_to(plan.get("delivery_address")),
                lines=[
                    OrderLineRecord(line["sku"], line["quantity"], _regular(line))
                    for line in plan["lines"]
                ],
                discounts={
                    line["sku"]: Decimal(line["discount"])
                    for line in plan["lines"]
                    if line.get("discount")
                },
            ),
        )
        return {
            "no": document.no,
            "status": document.state,
            "total": str(document.total.amount) if document.total else None,
            "currency": document.total.currency if document.total else None,
            "placed_at": document.dated.isoformat() if document.dated else None,
        }

    async def _cancel(self, plan: Json, results: Results) -> None:
        await self.erp.delete("orders", order_reference(plan))

    async def _index(self, plan: Json, results: Results) -> None:
        """The saga found by the order's number, so cancelOrder can release its holds
        (the ERP's order does not say where its goods are held)."""
        await self.log.claim_key(PLACED, results["erp_order"]["no"], plan["saga_id"])

    def _hold(self, shipment: Json) -> Any:
        async def hold(plan: Json, results: Results) -> Json:
            key = f"{order_reference(plan)}:{shipment['location']}"
            if shipment["kind"] == "STORE":
                await self.stores.hold(key, _store_moves(shipment), occurred_at(plan))
                return {}
            reservations = {}
            for sku, n in shipment["lines"].items():
                reservations[sku] = await wms_hold(
                    self.sources, self.invalidate, f"{key}:{sku}", sku, shipment["location"], n
                )
            return reservations

        return hold

    def release(self, shipment: Json) -> Any:
        """Undo a shipment's hold (the saga's undo, and cancelOrder's release)."""

        async def release(plan: Json, results: Results) -> None:
            key = f"{order_reference(plan)}:{shipment['location']}"
            if shipment["kind"] == "STORE":
                await self.stores.release(key, _store_moves(shipment), occurred_at(plan))
                return
            for sku, n in shipment["lines"].items():
                await wms_unhold(
                    self.sources, self.invalidate, f"{key}:{sku}", sku, shipment["location"], n
                )

        return release


def _regular(line: Json) -> Money:
    return Money(Decimal(line["price"]), line["currency"])


def _planned_line(line: Json) -> OrderLineRecord:
    """A planned line as the ERP will read it back: charged the regular price less the
    promotion's percentage (plans from before issue 17 have no discount)."""
    regular = _regular(line)
    percent = Decimal(line["discount"]) if line.get("discount") else None
    return OrderLineRecord(
        line["sku"],
        line["quantity"],
        discounted(regular, percent) if percent else regular,
        discount_percent=percent,
        regular_price=regular if percent else None,
    )


def _store_moves(shipment: Json) -> list[StockMove]:
    return [
        StockMove(sku, shipment["location"], n, IN_STOCK, RESERVED)
        for sku, n in shipment["lines"].items()
    ]


def placed_order(answer: Json, products: Mapping[str, Product]) -> Order:
    """The order as the saga's answer tells it (the same answer on every replay)."""
    plan = answer["plan"]
    pickup = plan["pickup"]
    currency = answer["currency"] or "EUR"
    record = OrderRecord(
        id=answer["no"],
        source="erp",
        channel=plan["channel"],
        customer_ref=plan["customer_no"],
        placed_at=datetime.fromisoformat(answer["placed_at"]),
        status=answer["status"],
        location_id=pickup["location"] if pickup else None,
        total=Money(Decimal(answer["total"]), currency) if answer["total"] else None,
        lines=tuple(_planned_line(line) for line in plan["lines"]),
        ship_to=_ship_to(plan.get("delivery_address")),
    )
    return Order.of(record, products)
