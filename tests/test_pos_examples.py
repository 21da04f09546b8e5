"""Square's own example payloads, taken from its OpenAPI description
(contracts/pos/square.json), map through the POS adapter's mappers: every field Square
marks optional is optional to Mosaic, so a store without coordinates, an order without
a time or a catalogue item, or a loyalty account whose profile is gone still reads.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from adapters import pos
from adapters.config import PosConfig
from adapters.records import Address, LocationRecord, Money
from legacy.world import TIER_THRESHOLDS
from resolvers.catalogue.geo import position

SPEC = Path(__file__).parent.parent / "contracts" / "pos" / "square.json"
CONFIG = PosConfig(url="-", tier_thresholds=TIER_THRESHOLDS)


@cache
def example(schema: str) -> Any:
    """The example Square gives for one of its response objects."""
    return json.loads(SPEC.read_text())["components"]["schemas"][schema]["example"]


def test_squares_example_locations_map_one_without_coordinates() -> None:
    bare, placed = (pos._location(raw) for raw in example("ListLocationsResponse")["locations"])
    assert (bare.id, bare.name, bare.kind, bare.active) == (
        "18YC4JDH91E1H",
        "Grant Park",
        "STORE",
        True,
    )
    assert (bare.lat, bare.lon, bare.opening_hours) == (None, None, None)
    assert bare.address == Address("123 Main St", "San Francisco", "94114", "US")
    assert (placed.lat, placed.lon) == (33.7889, -84.3841)


def test_a_store_without_coordinates_is_placed_by_its_dutch_postal_code_only() -> None:
    """Mosaic's postal code table is Dutch: Square's example store in San Francisco
    (94114) is not put in Drenthe (9411), it has no position."""
    us, _ = (pos._location(raw) for raw in example("ListLocationsResponse")["locations"])
    assert position(us) is None
    dutch = LocationRecord(
        "L1", "STORE", "Utrecht", Address(None, None, "3511 AB", "NL"), None, None
    )
    at = position(dutch)
    assert at is not None
    assert (round(at[0]), round(at[1])) == (52, 5)


def test_squares_business_hours_become_mosaics_hours_text() -> None:
    periods = [
        {"day_of_week": day, "start_local_time": "09:00:00", "end_local_time": "18:00:00"}
        for day in ("MON", "TUE", "WED", "THU", "FRI", "SAT")
    ]
    periods.append({"day_of_week": "SUN", "start_local_time": "12:00", "end_local_time": "17:00"})
    assert pos.opening_hours({"periods": periods}) == "Mo-Sa 09:00-18:00; Su 12:00-17:00"
    assert pos.opening_hours({"periods": periods[2:3]}) == "We 09:00-18:00"
    assert pos.opening_hours(None) is None


def test_squares_example_loyalty_account_maps_without_card_tier_or_profile() -> None:
    """Square's account has points and a phone mapping, no card and no tier: the tier is
    Mosaic's, from lifetime_points; with no profile there is no card or name."""
    (raw,) = example("SearchLoyaltyAccountsResponse")["loyalty_accounts"]
    account = pos._loyalty_account(raw, None, CONFIG)
    assert (account.account_id, account.customer_id) == (raw["id"], raw["customer_id"])
    assert (account.points, account.tier, account.card_number) == (10, "BRONZE", None)
    assert (account.given_name, account.email, account.phone) == (None, None, "+14155551234")
    assert pos._loyalty_account(raw, None, PosConfig(url="-")).tier is None


def test_squares_example_customers_give_the_card_from_their_reference_id() -> None:
    profiles = example("SearchCustomersResponse")["customers"]
    (raw,) = example("SearchLoyaltyAccountsResponse")["loyalty_accounts"]
    account = pos._loyalty_account(raw, profiles[0], CONFIG)
    assert (account.card_number, account.given_name, account.family_name) == (
        "YOUR_REFERENCE_ID_2",
        "James",
        "Bond",
    )
    assert account.email == "james.bond@example.com"


def test_squares_example_bulk_retrieve_leaves_out_a_customer_it_does_not_know() -> None:
    found = pos._retrieved_customers(example("BulkRetrieveCustomersResponse"))
    assert {c["id"] for c in found} == {"8DDA5NZVBZFGAX0V3HPF81HHE0", "N18CPRVXR5214XPBBA6BZQWF3C"}


def test_squares_example_orders_map_without_time_state_or_catalogue_items() -> None:
    """The first example order has no created_at, state or customer, and its lines are
    custom amounts (no catalog_object_id): no product Mosaic knows, so no lines; the
    total still counts them. The second has a time, a state and one catalogue item."""
    (bare,) = (pos._order(raw) for raw in example("BatchRetrieveOrdersResponse")["orders"])
    assert (bare.id, bare.source, bare.channel, bare.status) == (
        "CAISEM82RcpmcFBM0TfOyiHV3es",
        "pos",
        "STORE",
        "OPEN",
    )
    assert (bare.placed_at, bare.customer_ref, bare.lines) == (None, None, ())
    assert bare.total is not None
    assert (str(bare.total.amount), bare.total.currency) == ("75.99", "USD")
    created = pos._order(example("CreateOrderResponse")["order"])
    assert created.placed_at is not None
    assert [(line.sku, line.quantity) for line in created.lines] == [
        ("BEMYCSMIJL46OCDV4KYIKXIB", 2)
    ]
    assert pos._payments(example("CreateOrderResponse")["order"]) == []


def test_a_cancelled_receipt_is_spelled_as_mosaic_spells_it() -> None:
    raw = {**example("CreateOrderResponse")["order"], "state": "CANCELED"}
    assert pos._order(raw).status == "CANCELLED"


def test_a_receipts_refund_with_only_the_fields_square_requires_maps() -> None:
    """Square's example refund is a PaymentRefund (the Refunds API), which Mosaic does
    not read: a receipt's refunds come with it (Order.refunds). A Refund there must
    have only id, location_id, reason, amount_money and status; the rest (its tender,
    its time) comes from the receipt."""
    order = {
        "id": "O1",
        "location_id": "L1",
        "created_at": "2024-01-02T10:00:00Z",
        "tenders": [
            {
                "id": "T1",
                "type": "CARD",
                "amount_money": {"amount": 1500, "currency": "EUR"},
                "card_details": {"status": "CAPTURED", "card": {"card_type": "DEBIT"}},
            }
        ],
        "refunds": [
            {
                "id": "R1",
                "location_id": "L2",
                "reason": "too small",
                "amount_money": {"amount": 500, "currency": "EUR"},
                "status": "APPROVED",
            }
        ],
    }
    paid, back = pos._payments(order)
    assert (paid.id, paid.kind, paid.method, paid.status) == ("T1", "PAYMENT", "PIN", "COMPLETED")
    assert (back.id, back.kind, back.status, back.location_id) == (
        "R1",
        "REFUND",
        "COMPLETED",
        "L2",
    )
    assert back.amount == Money(Decimal("-5.00"), "EUR")
    assert (back.method, back.refund_of, back.at) == (None, None, paid.at)


def test_squares_example_counts_fold_into_stock() -> None:
    """Decoded as the adapter decodes them: straight into the fields it reads."""
    page = pos.COUNTS.decode(orjson.dumps(example("BatchRetrieveInventoryCountsResponse")))
    (record,) = pos._stock(page.counts)
    assert (record.sku, record.location_id, record.on_hand, record.reserved) == (
        "W62UWFY35CWMYGVWK6TWJDNI",
        "59TNP9SA8VGDA",
        79,
        0,
    )
