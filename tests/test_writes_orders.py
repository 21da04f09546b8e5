"""placeOrder through the real gateway, against fresh simulated systems; every effect is
checked by asking the systems themselves."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from legacy.examples import click_and_collect
from legacy.world import World
from tests.conftest import EXECUTORS
from tests.fresh import (
    erp_lines,
    erp_orders,
    erp_post,
    fresh_env,
    pos_adjust,
    pos_levels,
    wms_levels,
)
from tests.gateway_client import graphql, response_cache_hits, run_reference
from tests.simulators import call_count, clear_calls


@pytest.fixture(scope="module", params=EXECUTORS)
def env(
    request: pytest.FixtureRequest, world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Fresh systems and a gateway under each executor in turn: every write answers
    alike under both."""
    folder = tmp_path_factory.mktemp("writes-orders")
    with fresh_env(world, folder, executor=request.param) as env:
        yield env


def _order_input(world: World, key: str, **changes: Any) -> dict[str, Any]:
    variables = copy.deepcopy(click_and_collect(world))
    variables["input"].update(idempotencyKey=key, **changes)
    return variables


def _customer_no(world: World, variables: dict[str, Any]) -> str:
    contact_id = variables["input"]["customerId"].split(":")[1]
    contact = next(c for c in world.crm_contacts if c.id == contact_id)
    assert contact.erp_customer_no
    return contact.erp_customer_no


def _where(variables: dict[str, Any]) -> tuple[str, str]:
    line = variables["input"]["lines"][0]
    return line["sku"], variables["input"]["pickupLocationId"].split(":")[1]


def _stocked_pairs(world: World) -> list[tuple[str, str]]:
    """(sku, store) sold online and in store, most free stock first."""
    open_stores = {s.id for s in world.stores if s.active}
    sold = {i.no for i in world.items if {"WEB", "STORE"} <= set(i.channels) and not i.blocked}
    counts = [s for s in world.store_stock if s.item_no in sold and s.location_id in open_stores]
    counts.sort(key=lambda s: (s.on_hand - s.reserved, s.item_no, s.location_id), reverse=True)
    return [(s.item_no, s.location_id) for s in counts]


def payload_of(result: dict[str, Any], mutation: str) -> dict[str, Any]:
    """A mutation's payload from an answer without GraphQL errors."""
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"][mutation]
    return payload


def place(env: dict[str, str], variables: dict[str, Any]) -> dict[str, Any]:
    return payload_of(run_reference(env["gateway"], "ClickAndCollect", variables), "placeOrder")


def test_click_and_collect_runs_as_written_and_holds_the_goods_in_the_store(
    env: dict[str, str], world: World
) -> None:
    variables = _order_input(world, "cc-as-written")
    sku, store = _where(variables)
    before = pos_levels(env["pos"], sku, store)
    payload = place(env, variables)
    order = payload["order"]
    assert payload["errors"] == []
    assert order["id"].startswith("order:erp:SO")  # ids carry their kind (issue 18)
    assert order["status"] == "PLACED"
    assert order["channel"] == "WEB"
    assert order["pickup"]["location"]["id"] == f"store:{store}"
    assert order["pickup"]["readyAt"].endswith("Z")  # UTC, not the store's +01:00
    assert order["total"]["currency"] == "EUR"
    assert pos_levels(env["pos"], sku, store) == (before[0] - 1, before[1] + 1)
    placed = [o for o in erp_orders(env["erp"], _customer_no(world, variables))]
    erp = next(o for o in placed if o["No"] == order["id"].rsplit(":", 1)[1])
    assert erp["Status"] == "Open"  # NAV's status; nothing shipped: Mosaic's PLACED
    assert erp["Location_Code"] == store
    assert erp["Shortcut_Dimension_1_Code"] == "WEB"  # the installation's channel field
    assert erp["External_Document_No"].startswith("MOS-")


def test_the_order_reads_back_with_its_pickup(env: dict[str, str], world: World) -> None:
    order = place(env, _order_input(world, "cc-read-back"))["order"]
    query = (
        "query($id: ID!) { order(id: $id) { id status pickup { location { id name } readyAt } } }"
    )
    read = graphql(env["gateway"], query, {"id": order["id"]})["data"]["order"]
    assert read == {k: order[k] for k in ("id", "status", "pickup")}


def test_the_same_key_twice_places_one_order(env: dict[str, str], world: World) -> None:
    variables = _order_input(world, "cc-twice")
    sku, store = _where(variables)
    customer = _customer_no(world, variables)
    orders_before = len(erp_orders(env["erp"], customer))
    stock_before = pos_levels(env["pos"], sku, store)
    first, second = place(env, variables), place(env, variables)
    assert first == second
    assert len(erp_orders(env["erp"], customer)) == orders_before + 1
    assert pos_levels(env["pos"], sku, store) == (stock_before[0] - 1, stock_before[1] + 1)


def test_the_same_key_sent_concurrently_places_one_order(env: dict[str, str], world: World) -> None:
    variables = _order_input(world, "cc-concurrent")
    sku, store = _where(variables)
    customer = _customer_no(world, variables)
    orders_before = len(erp_orders(env["erp"], customer))
    stock_before = pos_levels(env["pos"], sku, store)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: place(env, variables), range(6)))
    assert len({a["order"]["id"] for a in answers}) == 1
    assert len(erp_orders(env["erp"], customer)) == orders_before + 1
    assert pos_levels(env["pos"], sku, store) == (stock_before[0] - 1, stock_before[1] + 1)


def test_a_key_used_again_for_another_order_is_refused(env: dict[str, str], world: World) -> None:
    place(env, _order_input(world, "cc-reused"))
    other = _order_input(world, "cc-reused", channel="APP")
    payload = place(env, other)
    assert payload["order"] is None
    assert [e["code"] for e in payload["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unknown_sku", "UNKNOWN_SKU"),
        ("closed_store", "STORE_CLOSED"),
        ("too_many", "INSUFFICIENT_STOCK"),
        ("unknown_store", "UNKNOWN_LOCATION"),
        ("unknown_customer", "UNKNOWN_CUSTOMER"),
    ],
)
def test_a_refusal_comes_back_in_errors_and_writes_nothing(
    env: dict[str, str], world: World, case: str, code: str
) -> None:
    closed = next(s.id for s in world.stores if not s.active)
    changes: dict[str, Any] = {
        "unknown_sku": {"lines": [{"sku": "99999", "quantity": 1}]},
        "closed_store": {"pickupLocationId": f"store:{closed}"},
        "too_many": {"lines": [{"sku": _where(_order_input(world, "x"))[0], "quantity": 999}]},
        "unknown_store": {"pickupLocationId": "store:LOC-999"},
        "unknown_customer": {"customerId": "crm:99999999"},
    }[case]
    variables = _order_input(world, f"cc-refused-{case}", **changes)
    customer = _customer_no(world, _order_input(world, "x"))
    before = len(erp_orders(env["erp"], customer))
    payload = place(env, variables)
    assert payload["order"] is None
    assert [e["code"] for e in payload["errors"]] == [code]
    assert payload["errors"][0]["message"]
    assert len(erp_orders(env["erp"], customer)) == before


def test_twelve_concurrent_orders_for_the_last_unit_place_one_and_leave_no_debris(
    env: dict[str, str], world: World
) -> None:
    """Square would reserve the unit twelve times (its adjustments never refuse): the
    holds take a lease on the item at the store in the saga log, and each reads the
    count after the one before has moved it (resolvers/commerce/holds.py). The hold
    comes before the ERP's sales order, so the eleven refused never create one (issue
    17: they used to create a sales order each and delete it again)."""
    variables = _order_input(world, "cc-last-0")
    sku, store = _where(variables)
    in_stock, reserved = pos_levels(env["pos"], sku, store)
    pos_adjust(env["pos"], "leave-one", sku, store, in_stock - 1, "WASTE")
    assert pos_levels(env["pos"], sku, store) == (1, reserved)
    customer = _customer_no(world, variables)
    before = erp_orders(env["erp"], customer)  # NAV deletes an undone order: all stand
    racing = [variables, *(_order_input(world, f"cc-last-{n}") for n in range(1, 12))]
    clear_calls(env["erp"])
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda v: place(env, v), racing))
    placed = [a for a in answers if a["order"]]
    refused = [a for a in answers if not a["order"]]
    assert len(placed) == 1
    assert {e["code"] for a in refused for e in a["errors"]} == {"INSUFFICIENT_STOCK"}
    assert len(refused) == 11
    assert pos_levels(env["pos"], sku, store) == (0, reserved + 1)
    assert len(erp_orders(env["erp"], customer)) == len(before) + 1
    calls = call_count(env["erp"])
    assert (calls["SalesOrder:Create"], calls["SalesOrder:Delete"]) == (1, 0)


def test_delivery_of_an_online_only_item_is_held_in_the_nearest_warehouse_that_has_it(
    env: dict[str, str], world: World
) -> None:
    online_only = {i.no for i in world.items if "STORE" not in i.channels and not i.blocked}
    stocked = [s for s in world.warehouse_stock if s.item_no in online_only and s.on_hand > 20]
    sku = stocked[0].item_no
    sites = {
        s.location_id: wms_levels(env["wms"], sku, s.location_id)
        for s in stocked
        if s.item_no == sku
    }
    variables = _order_input(
        world,
        "delivery-warehouse",
        lines=[{"sku": sku, "quantity": 1}],
        pickupLocationId=None,
        deliveryAddress={"postalCode": "9711 AB", "street": "Grote Markt 1", "city": "Groningen"},
    )
    payload = place(env, variables)
    assert payload["errors"] == []
    assert payload["order"]["pickup"] is None
    changed = {
        site: wms_levels(env["wms"], sku, site)
        for site in sites
        if wms_levels(env["wms"], sku, site) != sites[site]
    }
    assert len(changed) == 1
    ((site, (on_hand, reserved)),) = changed.items()
    assert (on_hand, reserved) == (sites[site][0], sites[site][1] + 1)


def test_the_next_read_sees_the_write_despite_the_stock_cache(
    env: dict[str, str], world: World
) -> None:
    sku, store = _stocked_pairs(world)[1]  # not the one the other tests sell out
    variables = _order_input(
        world,
        "cc-read-your-write",
        lines=[{"sku": sku, "quantity": 1}],
        pickupLocationId=f"store:{store}",
    )
    query = "query($skus: [ID!]!) { products(skus: $skus) { stock { location { id } reserved } } }"

    def reserved() -> int:
        stock = graphql(env["gateway"], query, {"skus": [sku]})["data"]["products"][0]["stock"]
        return next(s["reserved"] for s in stock if s["location"]["id"] == f"store:{store}")

    before = reserved()  # its stock now in the 5 s cache, the answer kept whole
    hits = response_cache_hits(env["gateway"])
    assert reserved() == before
    assert response_cache_hits(env["gateway"]) == hits + 1  # given whole, not run
    assert place(env, variables)["errors"] == []
    assert reserved() == before + 1


def test_an_order_without_a_way_to_receive_it_is_refused(env: dict[str, str], world: World) -> None:
    payload = place(env, _order_input(world, "cc-nowhere", pickupLocationId=None))
    assert [e["code"] for e in payload["errors"]] == ["INVALID_INPUT"]


def test_a_web_promotion_lowers_the_price_shown_and_place_order_charges_what_was_shown(
    env: dict[str, str], world: World
) -> None:
    """DESIGN, Prices (issue 17): price(channel) is what the channel charges today, its
    promotion applied; compareAtPrice the regular price it lowers. placeOrder charges
    exactly that, writing the regular price and the promotion's percentage on the ERP's
    sales line (a real NAV would price the line itself otherwise), and the order line
    keeps both."""
    today = datetime.now(UTC).date()
    promoted = {
        p.item_no: p
        for p in world.promotions
        if p.channel == "WEB" and p.starting_date <= today <= p.ending_date
    }
    sku, store = next((s, st) for s, st in _stocked_pairs(world) if s in promoted)
    query = """query($sku: ID!) { product(sku: $sku) {
        price(channel: WEB) { amount } compareAtPrice(channel: WEB) { amount } } }"""
    shown = graphql(env["gateway"], query, {"sku": sku})["data"]["product"]
    price, regular = (Decimal(shown[k]["amount"]) for k in ("price", "compareAtPrice"))
    percent = promoted[sku].discount_percent
    assert price < regular
    assert price == (regular * (1 - percent / 100)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    variables = _order_input(
        world,
        "cc-promoted",
        lines=[{"sku": sku, "quantity": 1}],
        pickupLocationId=f"store:{store}",
    )
    placed = graphql(env["gateway"], PLACE_WITH_LINES, variables)["data"]["placeOrder"]
    assert placed["errors"] == []
    order = placed["order"]
    assert Decimal(order["total"]["amount"]) == price
    (line,) = order["lines"]
    assert Decimal(line["unitPrice"]["amount"]) == price
    assert Decimal(line["compareAtUnitPrice"]["amount"]) == regular
    assert Decimal(line["discountPercent"]) == percent
    (erp_line,) = erp_lines(env["erp"], "SalesOrder", order["id"].rsplit(":", 1)[1])
    assert Decimal(erp_line["Unit_Price"]) == regular
    assert Decimal(erp_line["Line_Discount_Percent"]) == percent
    assert Decimal(erp_line["Line_Amount"]) == price
    read = graphql(env["gateway"], READ_LINES, {"id": order["id"]})["data"]["order"]
    assert read["lines"] == order["lines"]  # the order line keeps its price and promotion


LINES = "lines { unitPrice { amount } compareAtUnitPrice { amount } discountPercent }"
PLACE_WITH_LINES = (
    "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {"
    f" order {{ id total {{ amount }} {LINES} }} errors {{ code message }} }} }}"
)
READ_LINES = f"query($id: ID!) {{ order(id: $id) {{ {LINES} }} }}"


@pytest.mark.parametrize(
    ("address", "field", "code"),
    [
        ({"postalCode": "10115"}, "postalCode", "INVALID_POSTAL_CODE"),  # Berlin, not 1011
        ({"postalCode": "1011", "country": "DE"}, "country", "NOT_DELIVERED_THERE"),
    ],
)
def test_a_delivery_abroad_is_refused_on_its_own_argument(
    env: dict[str, str], world: World, address: dict[str, str], field: str, code: str
) -> None:
    variables = _order_input(
        world, f"delivery-abroad-{code}", pickupLocationId=None, deliveryAddress=address
    )
    mutation = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {"
    mutation += " order { id } errors { code field } } }"
    payload = graphql(env["gateway"], mutation, variables)["data"]["placeOrder"]
    assert payload["order"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        (code, ["deliveryAddress", field])
    ]


# --- cancelOrder (issue 17) -------------------------------------------------------------

CANCEL = """mutation($id: ID!, $key: String!) { cancelOrder(orderId: $id, idempotencyKey: $key) {
  cancellation { orderId status released
    refundPayment { status amount { amount } method refundOf } }
  errors { code message } } }"""


def cancel(env: dict[str, str], order_id: str, key: str) -> dict[str, Any]:
    return payload_of(graphql(env["gateway"], CANCEL, {"id": order_id, "key": key}), "cancelOrder")


def test_an_order_not_yet_collected_is_cancelled_its_goods_released_and_its_payment_refunded(
    env: dict[str, str], world: World
) -> None:
    sku, store = _stocked_pairs(world)[2]
    variables = _order_input(
        world,
        "cc-to-cancel",
        lines=[{"sku": sku, "quantity": 1}],
        pickupLocationId=f"store:{store}",
    )
    before = pos_levels(env["pos"], sku, store)
    order = place(env, variables)["order"]
    no = order["id"].rsplit(":", 1)[1]
    entry = erp_post(env["erp"], "payment", order=no, amount=order["total"]["amount"])["entry"]
    assert pos_levels(env["pos"], sku, store) == (before[0] - 1, before[1] + 1)
    first = cancel(env, order["id"], "cancel-1")
    assert first == cancel(env, order["id"], "cancel-1")  # the same key: the same answer
    assert first["errors"] == []
    assert first["cancellation"] == {
        "orderId": order["id"],
        "status": "CANCELLED",
        "released": 1,
        "refundPayment": {
            "status": "PENDING",
            "amount": {"amount": str(-Decimal(order["total"]["amount"]))},
            "method": "IDEAL",
            "refundOf": f"erp:{entry}",
        },
    }
    assert pos_levels(env["pos"], sku, store) == before  # the hold released
    assert no not in {o["No"] for o in erp_orders(env["erp"], _customer_no(world, variables))}


def test_an_order_shipped_cannot_be_cancelled(env: dict[str, str], world: World) -> None:
    sku, store = _stocked_pairs(world)[3]
    variables = _order_input(
        world, "cc-shipped", lines=[{"sku": sku, "quantity": 1}], pickupLocationId=f"store:{store}"
    )
    order = place(env, variables)["order"]
    erp_post(env["erp"], "shipment", order=order["id"].rsplit(":", 1)[1])
    payload = cancel(env, order["id"], "cancel-shipped")
    assert payload["cancellation"] is None
    assert [e["code"] for e in payload["errors"]] == ["NOT_CANCELLABLE"]
