"""Working variables for the reference operations, chosen from the seeded data.

GraphiQL, the README, the tests and the benchmark all need a loyalty card that exists,
SKUs that are sold, a postal code; picking them from the same deterministic world as
the simulated systems means they always fit whatever size and seed is running.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from legacy.world import SizeName, World, build_world

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


def examples(seed: int = 42, size: SizeName = "default") -> dict[str, dict[str, Any]]:
    world = build_world(seed, size)
    online = [i.no for i in world.items if "WEB" in i.channels and not i.blocked]
    everything = [i.no for i in world.items]
    return {
        "Customer360": {"card": showcase_card(world), "channel": "STORE"},
        "ProductListing": {"skus": online[:LISTING_SIZE], "postalCode": "3511 AB"},
        "StockCheck": {"skus": everything[:STOCK_CHECK_SIZE]},
    }
