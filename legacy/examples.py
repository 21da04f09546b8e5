"""Working variables for the reference operations, chosen from the seeded data.

GraphiQL, the README, the tests and the benchmark all need a loyalty card that exists,
SKUs that are sold, a postal code; picking them from the same deterministic world as
the simulated systems means they always fit whatever size and seed is running.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from legacy.world import CrmContact, Return, SizeName, World, build_world

LISTING_SIZE = 48
STOCK_CHECK_SIZE = 50


def showcase_card(world: World) -> str:
    """The card of a customer whose record shows the golden record at work: known to
    CRM, POS and ERP with cross-references, with orders online and in store."""
    erp_orders = Counter(o.customer_ref for o in world.erp_orders)
    pos_orders = Counter(o.customer_ref for o in world.pos_orders)
    pos_by_card = {c.card_number: c for c in world.pos_customers}
    candidates = [
        contact
        for contact in world.crm_contacts
        if contact.loyalty_card in pos_by_card
        and contact.erp_customer_no
        and erp_orders[contact.erp_customer_no]
        and pos_orders[pos_by_card[contact.loyalty_card].id]
    ]
    best = max(
        candidates,
        key=lambda c: (
            erp_orders[c.erp_customer_no] + pos_orders[pos_by_card[c.loyalty_card or ""].id],
            c.id,
        ),
    )
    return best.loyalty_card or ""


def returned_in_store(world: World) -> Return:
    """The first online order brought back to a store: refunded by the ERP, recorded by
    the POS."""
    return next(r for r in world.returns if r.channel == "STORE")


def _shoppers_in_both_channels(world: World) -> list[CrmContact]:
    """CRM contacts with a loyalty card and an ERP account, with orders in both."""
    erp_orders = Counter(o.customer_ref for o in world.erp_orders)
    pos_orders = Counter(o.customer_ref for o in world.pos_orders)
    pos_by_card = {c.card_number: c.id for c in world.pos_customers}
    return [
        c
        for c in world.crm_contacts
        if c.loyalty_card in pos_by_card
        and erp_orders[c.erp_customer_no]
        and pos_orders[pos_by_card[c.loyalty_card]]
    ]


def payments_card(world: World) -> str:
    """A shopper in both channels who brought an online order back to a store."""
    store_returns = {r.customer_ref for r in world.returns if r.channel == "STORE"}
    shoppers = _shoppers_in_both_channels(world)
    return next(c.loyalty_card or "" for c in shoppers if c.erp_customer_no in store_returns)


def recommendations_card(world: World) -> str:
    """A shopper in both channels whose consent for personalisation runs the longest
    (so the example works for as long as possible after the seeded history)."""

    def consent_until(contact: CrmContact) -> str:
        return max(
            (
                c.valid_until.isoformat()
                for c in contact.consents
                if c.purpose == "personalisation" and c.granted and c.valid_until
            ),
            default="",
        )

    shopper = max(_shoppers_in_both_channels(world), key=lambda c: (consent_until(c), c.id))
    return shopper.loyalty_card or ""


def click_and_collect(world: World) -> dict[str, Any]:
    """The showcase customer collects, from an open store, the item it has most of."""
    card = showcase_card(world)
    contact = next(c for c in world.crm_contacts if c.loyalty_card == card)
    open_stores = {s.id for s in world.stores if s.active}
    sold = {i.no for i in world.items if {"WEB", "STORE"} <= set(i.channels) and not i.blocked}
    free = {
        (s.item_no, s.location_id): s.on_hand - s.reserved
        for s in world.store_stock
        if s.item_no in sold and s.location_id in open_stores
    }
    sku, store = max(free, key=lambda pair: (free[pair], pair))
    return {
        "input": {
            "customerId": f"crm:{contact.id}",
            "channel": "WEB",
            "idempotencyKey": "example-click-and-collect",
            "lines": [{"sku": sku, "quantity": 1}],
            "pickupLocationId": f"store:{store}",
        }
    }


def return_in_store(world: World) -> dict[str, Any]:
    """A delivered online order nothing has come back from yet, returned at a store."""
    returned = {r.order_id for r in world.returns}
    order = next(o for o in world.erp_orders if o.status == "DELIVERED" and o.id not in returned)
    store = next(s.id for s in world.stores if s.active)
    return {
        "input": {
            "orderId": f"order:erp:{order.id}",
            "locationId": f"store:{store}",
            "idempotencyKey": "example-return-in-store",
            "lines": [{"sku": order.lines[0].item_no, "quantity": 1}],
        }
    }


def product_page(world: World) -> dict[str, Any]:
    """A product sold online and in stores, the one most stores have free, near Utrecht's
    centre."""
    sold = {i.no for i in world.items if {"WEB", "STORE"} <= set(i.channels) and not i.blocked}
    open_stores = {s.id for s in world.stores if s.active}
    stocked = Counter(
        s.item_no
        for s in world.store_stock
        if s.item_no in sold and s.location_id in open_stores and s.on_hand > s.reserved
    )
    sku = max(stocked, key=lambda no: (stocked[no], no))
    return {"sku": sku, "postalCode": "3511 AB", "channel": "WEB"}


def partly_returned(world: World) -> str:
    """An online order some of whose pieces came back and some can still come back:
    the return desk shows both."""
    orders = {o.id: o for o in world.erp_orders}
    return next(
        r.order_id
        for r in world.returns
        if sum(line.quantity for line in r.lines)
        < sum(line.quantity for line in orders[r.order_id].lines)
    )


def examples(seed: int = 42, size: SizeName = "default") -> dict[str, dict[str, Any]]:
    world = build_world(seed, size)
    online = [i.no for i in world.items if "WEB" in i.channels and not i.blocked]
    everything = [i.no for i in world.items]
    return {
        "Customer360": {"card": showcase_card(world), "channel": "STORE"},
        "ProductListing": {"skus": online[:LISTING_SIZE], "postalCode": "3511 AB"},
        "StockCheck": {"skus": everything[:STOCK_CHECK_SIZE]},
        "CustomerPayments": {"card": payments_card(world)},
        "OrderPayments": {"id": f"order:erp:{returned_in_store(world).order_id}"},
        "Recommendations": {"card": recommendations_card(world), "channel": "STORE", "limit": 5},
        "ClickAndCollect": click_and_collect(world),
        "ReturnInStore": return_in_store(world),
        # the screens (issue 18)
        "ProductPage": product_page(world),
        "CategoryPage": {"category": "SHOES", "first": 12},
        "OrderHistory": {"customer": {"loyaltyCard": showcase_card(world)}, "first": 10},
        "StoreTablet": {"card": recommendations_card(world)},
        "ReturnDesk": {"orderId": f"order:erp:{partly_returned(world)}"},
    }
