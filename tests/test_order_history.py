"""A customer's order history a page at a time across the ERP and the POS, an order's
delivery address and returns, and what of each line can still come back.

The history's pages are checked against ``orders(last:)`` (the same orders, newest
first, one answer); what moves between pages is checked on fresh systems, where the
test places an order between two pages.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from legacy.examples import click_and_collect, examples, showcase_card
from legacy.world import World
from tests.conftest import SEED, SIZE
from tests.fresh import erp_read, fresh_systems, gateway
from tests.gateway_client import codes, graphql, run_reference
from tests.simulators import set_knobs

HISTORY = """query($card: String!, $first: Int!, $after: String) {
  customer(by: {loyaltyCard: $card}) {
    id
    orderHistory(first: $first, after: $after) {
      edges { cursor node { id channel placedAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
ALL_ORDERS = """query($card: String!) {
  customer(by: {loyaltyCard: $card}) { orders(last: 200) { id } } }"""
ORDER = """query($id: ID!) { order(id: $id) {
  id status deliveryAddress { street city postalCode country }
  lines { sku quantity returnableQuantity }
  returns { id status registeredAt location { id } order { id }
            lines { sku quantity received reason unitRefund { amount } product { sku } } }
} }"""


def _history(url: str, card: str, first: int) -> list[dict[str, Any]]:
    pages, after = [], None
    while True:
        result = graphql(url, HISTORY, {"card": card, "first": first, "after": after})
        assert "errors" not in result, result
        page = result["data"]["customer"]["orderHistory"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


def test_the_history_pages_through_both_systems_newest_first(
    gateway_url: str, world: World
) -> None:
    card = showcase_card(world)
    pages = _history(gateway_url, card, 3)
    shown = [e["node"] for page in pages for e in page["edges"]]
    everything = graphql(gateway_url, ALL_ORDERS, {"card": card})["data"]["customer"]["orders"]
    assert [o["id"] for o in shown] == [o["id"] for o in everything]
    channels = {o["channel"] for o in shown}
    assert "STORE" in channels
    assert channels & {"WEB", "APP"}
    assert {o["id"].split(":")[1] for o in shown} == {"erp", "pos"}
    placed = [o["placedAt"] for o in shown]
    assert placed == sorted(placed, reverse=True)
    assert len(pages) > 2


def test_each_edge_cursor_goes_on_after_its_own_edge(gateway_url: str, world: World) -> None:
    card = showcase_card(world)
    first = graphql(gateway_url, HISTORY, {"card": card, "first": 6})
    edges = first["data"]["customer"]["orderHistory"]["edges"]
    middle = graphql(gateway_url, HISTORY, {"card": card, "first": 3, "after": edges[2]["cursor"]})
    following = middle["data"]["customer"]["orderHistory"]["edges"]
    assert [e["node"]["id"] for e in following] == [e["node"]["id"] for e in edges[3:6]]


def test_a_refused_cursor_nulls_only_the_history(gateway_url: str, world: World) -> None:
    for after in ("nonsense", _other_lists_cursor()):
        result = graphql(
            gateway_url, HISTORY, {"card": showcase_card(world), "first": 5, "after": after}
        )
        assert result["data"]["customer"]["id"]
        assert result["data"]["customer"]["orderHistory"] is None
        assert codes(result) == ["BAD_USER_INPUT"]
        assert result["errors"][0]["path"] == ["customer", "orderHistory"]


def _other_lists_cursor() -> str:
    from resolvers.graphql.types.connection import cursor

    return cursor("productSearch", "27;1;1;")


def test_with_the_erp_down_the_history_names_it_and_still_shows_the_store_receipts(
    gateway_url: str, systems: dict[str, str], world: World
) -> None:
    card = showcase_card(world)
    set_knobs(systems["erp"], error_rate=1.0)
    try:
        result = graphql(gateway_url, HISTORY, {"card": card, "first": 50})
    finally:
        set_knobs(systems["erp"], error_rate=0.0)
    history = result["data"]["customer"]["orderHistory"]
    assert history["edges"]
    assert {e["node"]["id"].split(":")[1] for e in history["edges"]} == {"pos"}
    paths = {(tuple(e["path"]), e["extensions"].get("source")) for e in result["errors"]}
    assert (("customer", "orderHistory"), "erp") in paths


def test_a_delivered_order_shows_its_delivery_address_and_what_can_come_back(
    gateway_url: str, world: World
) -> None:
    """The seeded history's online orders were delivered to the customer's address (NAV
    fills Ship-to from the sell-to customer); a returned one shows its return order and
    what is left to return per line."""
    back = next(r for r in world.returns if r.channel == "STORE")
    order = next(o for o in world.erp_orders if o.id == back.order_id)
    customer = next(c for c in world.erp_customers if c.no == order.customer_ref)
    result = graphql(gateway_url, ORDER, {"id": f"order:erp:{order.id}"})
    assert "errors" not in result, result
    shown = result["data"]["order"]
    assert shown["deliveryAddress"] == {
        "street": customer.address.street,
        "city": customer.address.city,
        "postalCode": customer.address.postal_code,
        "country": None,  # page 132 shows no Ship-to country (PAGES.md)
    }
    (returned,) = shown["returns"]
    assert returned["id"] == f"return:erp:{back.id}"
    assert returned["status"] == "REFUNDED"
    assert returned["order"]["id"] == shown["id"]
    assert returned["location"] == {"id": f"store:{back.location_id}"}
    taken = {line.item_no: line.quantity for line in back.lines}
    assert [(x["sku"], x["quantity"], x["received"]) for x in returned["lines"]] == [
        (sku, n, n) for sku, n in taken.items()
    ]
    assert all(x["product"]["sku"] == x["sku"] for x in returned["lines"])
    for line in shown["lines"]:
        assert line["returnableQuantity"] == line["quantity"] - taken.get(line["sku"], 0)


def test_a_store_receipt_has_no_delivery_address(gateway_url: str, world: World) -> None:
    receipt = world.pos_orders[0]
    result = graphql(gateway_url, ORDER, {"id": f"order:pos:{receipt.id}"})
    assert "errors" not in result, result
    assert result["data"]["order"]["deliveryAddress"] is None
    assert all(x["returnableQuantity"] == x["quantity"] for x in result["data"]["order"]["lines"])


def test_an_order_not_yet_shipped_has_nothing_to_return(gateway_url: str, world: World) -> None:
    placed = next(o for o in world.erp_orders if o.status == "PLACED")
    result = graphql(gateway_url, ORDER, {"id": f"order:erp:{placed.id}"})
    assert [x["returnableQuantity"] for x in result["data"]["order"]["lines"]] == [
        0 for _ in placed.lines
    ]


def test_the_old_order_ids_are_still_accepted(gateway_url: str, world: World) -> None:
    order = world.erp_orders[0]
    result = graphql(
        gateway_url, "query($id: ID!) { order(id: $id) { id } }", {"id": f"erp:{order.id}"}
    )
    assert result["data"]["order"]["id"] == f"order:erp:{order.id}"


def test_an_orders_returns_are_one_erp_read_for_the_whole_history(
    gateway_url: str, systems: dict[str, str], world: World
) -> None:
    """Every order's return orders, and so every line's returnable quantity, come from one
    SalesReturnOrder read for the page (their numbers as NAV alternatives, ``a|b|c``)."""
    from tests.simulators import call_count, clear_calls

    query = """query($card: String!) { customer(by: {loyaltyCard: $card}) {
      orderHistory(first: 20) { edges { node { returns { id } lines { returnableQuantity } } } }
    } }"""
    clear_calls(systems["erp"])
    result = graphql(gateway_url, query, {"card": showcase_card(world)})
    assert "errors" not in result, result
    assert call_count(systems["erp"])["SalesReturnOrder:ReadMultiple"] == 1


# --- on fresh systems: the history moves while it is read ---------------------------------


@pytest.fixture(scope="module")
def env(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("order-history")
    with fresh_systems(world, folder) as servers, gateway(servers, folder / "gw") as url:
        yield {"gateway": url, **{name: s.url for name, s in servers.items()}}


def test_an_order_placed_between_two_pages_neither_repeats_nor_shifts_them(
    env: dict[str, str], world: World
) -> None:
    card = examples(SEED, SIZE)["Customer360"]["card"]
    before = [e["node"]["id"] for p in _history(env["gateway"], card, 100) for e in p["edges"]]
    first = graphql(env["gateway"], HISTORY, {"card": card, "first": 4})
    page = first["data"]["customer"]["orderHistory"]
    placed = run_reference(env["gateway"], "ClickAndCollect", _new_order(world, "between-pages"))
    assert placed["data"]["placeOrder"]["errors"] == [], placed
    after = page["pageInfo"]["endCursor"]
    rest = graphql(env["gateway"], HISTORY, {"card": card, "first": 100, "after": after})
    shown = [e["node"]["id"] for e in page["edges"]] + [
        e["node"]["id"] for e in rest["data"]["customer"]["orderHistory"]["edges"]
    ]
    assert shown == before
    again = [e["node"]["id"] for p in _history(env["gateway"], card, 100) for e in p["edges"]]
    assert again[0] == placed["data"]["placeOrder"]["order"]["id"]


def _new_order(world: World, key: str) -> dict[str, Any]:
    variables = copy.deepcopy(click_and_collect(world))
    variables["input"]["idempotencyKey"] = key
    return variables


def test_a_delivery_order_keeps_its_address_in_the_erps_ship_to(
    env: dict[str, str], world: World
) -> None:
    variables = _new_order(world, "delivered-here")
    del variables["input"]["pickupLocationId"]
    address = {"street": "Oudegracht 12", "city": "Utrecht", "postalCode": "3511 AB"}
    variables["input"]["deliveryAddress"] = address
    query = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
        order { id deliveryAddress { street city postalCode country } pickup { readyAt } }
        errors { code message } } }"""
    result = graphql(env["gateway"], query, variables)
    payload = result["data"]["placeOrder"]
    assert payload["errors"] == [], result
    expected = {**address, "country": "NL"}
    assert payload["order"]["deliveryAddress"] == expected
    assert payload["order"]["pickup"] is None
    no = payload["order"]["id"].rsplit(":", 1)[1]
    (document,) = erp_read(env["erp"], "SalesOrder", "No", no)
    assert (
        document["Ship_to_Address"],
        document["Ship_to_City"],
        document["Ship_to_Post_Code"],
        document["Ship_to_Country_Region_Code"],
    ) == ("Oudegracht 12", "Utrecht", "3511 AB", "NL")
    read = graphql(env["gateway"], ORDER, {"id": payload["order"]["id"]})
    assert read["data"]["order"]["deliveryAddress"] == expected


def test_a_return_lowers_what_can_still_come_back(env: dict[str, str], world: World) -> None:
    order = next(
        o
        for o in world.erp_orders
        if o.status == "DELIVERED"
        and o.id not in {r.order_id for r in world.returns}
        and o.lines[0].quantity >= 2
    )
    line = order.lines[0]
    variables = {
        "input": {
            "orderId": f"order:erp:{order.id}",
            "idempotencyKey": "return-one-of-two",
            "lines": [{"sku": line.item_no, "quantity": 1}],
            "locationId": f"store:{next(s.id for s in world.stores if s.active)}",
            "reason": "DAMAGED",
        }
    }
    registered = run_reference(env["gateway"], "ReturnInStore", variables)
    payload = registered["data"]["registerReturn"]
    assert payload["errors"] == [], registered
    read = graphql(env["gateway"], ORDER, {"id": f"order:erp:{order.id}"})["data"]["order"]
    assert read["lines"][0]["returnableQuantity"] == line.quantity - 1
    (back,) = read["returns"]
    assert back["id"] == payload["return"]["id"]
    assert back["status"] == "REGISTERED"
    assert [(x["sku"], x["quantity"], x["received"], x["reason"]) for x in back["lines"]] == [
        (line.item_no, 1, 0, "DAMAGED")
    ]
    assert back["lines"][0]["unitRefund"]["amount"] == str(line.unit_price)
