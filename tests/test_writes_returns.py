"""registerReturn and the profile writes through the real gateway, against fresh
simulated systems, checked by asking the systems themselves."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from legacy.erp.seed import invoice_no
from legacy.examples import click_and_collect, return_in_store
from legacy.world import World
from tests.conftest import EXECUTORS
from tests.fresh import (
    crm_contact,
    erp_post,
    erp_refunds,
    erp_returns,
    fresh_env,
    pos_levels,
    pos_sale,
)
from tests.gateway_client import graphql, run_reference
from tests.simulators import set_knobs


@pytest.fixture(scope="module", params=EXECUTORS)
def env(
    request: pytest.FixtureRequest, world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Fresh systems and a gateway under each executor in turn: every write answers
    alike under both."""
    folder = tmp_path_factory.mktemp("writes-returns")
    with fresh_env(world, folder, executor=request.param) as env:
        yield env


def _return_input(world: World, key: str, **changes: Any) -> dict[str, Any]:
    variables = copy.deepcopy(return_in_store(world))
    variables["input"].update(idempotencyKey=key, **changes)
    return variables


def register(env: dict[str, str], variables: dict[str, Any]) -> dict[str, Any]:
    result = run_reference(env["gateway"], "ReturnInStore", variables)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["registerReturn"]
    return payload


def _unreturned_online_orders(world: World) -> list[Any]:
    returned = {r.order_id for r in world.returns}
    return [o for o in world.erp_orders if o.status == "DELIVERED" and o.id not in returned]


def _return_of(world: World, n: int, key: str, quantity: int = 1) -> tuple[Any, dict[str, Any]]:
    """The n-th online order nothing came back from, and a return of its first line."""
    order = _unreturned_online_orders(world)[n]
    line = order.lines[0]
    lines = [{"sku": line.item_no, "quantity": quantity}]
    return order, _return_input(world, key, orderId=f"erp:{order.id}", lines=lines)


def test_return_in_store_runs_as_written_registers_the_return_order_and_restocks(
    env: dict[str, str], world: World
) -> None:
    variables = _return_input(world, "ret-as-written")
    order_no = variables["input"]["orderId"].rsplit(":", 1)[1]
    store = variables["input"]["locationId"].split(":")[1]
    sku = variables["input"]["lines"][0]["sku"]
    order = next(o for o in world.erp_orders if o.id == order_no)
    price = next(line.unit_price for line in order.lines if line.item_no == sku)
    stock_before = pos_levels(env["pos"], sku, store)
    payload = register(env, variables)
    back = payload["return"]
    assert payload["errors"] == []
    assert back["id"].startswith("return:erp:SR")  # ids carry their kind (issue 18)
    # a return order nothing was received on yet: NAV has not posted it
    assert back["status"] == "REGISTERED"
    assert Decimal(back["refund"]["amount"]) == price
    assert back["order"]["id"] == f"order:erp:{order_no}"
    erp_return = next(
        r
        for r in erp_returns(env["erp"], invoice_no(order_no))
        if r["No"] == back["id"].rsplit(":", 1)[1]
    )
    assert (erp_return["Applies_to_Doc_Type"], erp_return["Location_Code"]) == ("Invoice", store)
    assert erp_return["Shortcut_Dimension_1_Code"] == "STORE"
    assert pos_levels(env["pos"], sku, store) == (stock_before[0] + 1, stock_before[1])


def test_a_returns_refund_is_owed_by_its_return_order_until_finance_posts_it(
    env: dict[str, str], world: World
) -> None:
    """No standard NAV page takes a ledger entry from outside: the return order is the
    ERP's record of what is owed, and the ledger shows the refund once it is posted."""
    order, variables = _return_of(world, 5, "ret-refund")
    back = register(env, variables)["return"]
    assert erp_refunds(env["erp"], order.id) == []
    (booked,) = erp_returns(env["erp"], invoice_no(order.id))
    assert booked["No"] == back["id"].rsplit(":", 1)[1]
    shown = run_reference(env["gateway"], "OrderPayments", {"id": f"erp:{order.id}"})
    assert [p["kind"] for p in shown["data"]["order"]["payments"]] == ["PAYMENT"]


def test_the_same_return_twice_is_registered_once(env: dict[str, str], world: World) -> None:
    order, variables = _return_of(world, 1, "ret-twice")
    first, second = register(env, variables), register(env, variables)
    assert first == second
    assert len(erp_returns(env["erp"], invoice_no(order.id))) == 1


def test_no_more_comes_back_than_was_bought(env: dict[str, str], world: World) -> None:
    order = _unreturned_online_orders(world)[2]
    _, variables = _return_of(world, 2, "ret-too-many", order.lines[0].quantity + 1)
    payload = register(env, variables)
    assert payload["return"] is None
    assert [e["code"] for e in payload["errors"]] == ["NOT_RETURNABLE"]
    assert erp_returns(env["erp"], invoice_no(order.id)) == []


def test_two_returns_racing_for_the_same_goods_never_refund_them_twice(
    env: dict[str, str], world: World
) -> None:
    """Both take everything back at once (the ERP answers slowly). Returns of one order
    are serialised (issue 17), so the second counts the first and is refused; the
    saga's recount after writing stays as the guard should a lease run out."""
    order = _unreturned_online_orders(world)[4]
    everything = order.lines[0].quantity
    both = [_return_of(world, 4, f"ret-race-{side}", everything)[1] for side in "ab"]
    set_knobs(env["erp"], latency_ms=150.0)
    try:
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda v: register(env, v), both))
    finally:
        set_knobs(env["erp"], latency_ms=0.0)
    registered = [a for a in answers if a["return"]]
    assert len(registered) == 1
    for refused in (a for a in answers if not a["return"]):
        assert [e["code"] for e in refused["errors"]] == ["NOT_RETURNABLE"]
    # a return undone is deleted, as NAV has no cancelled return orders
    assert len(erp_returns(env["erp"], invoice_no(order.id))) == len(registered)


def test_a_store_receipt_returned_at_another_store_is_booked_in_the_erp(
    env: dict[str, str], world: World
) -> None:
    receipt = next(o for o in world.pos_orders if o.lines[0].quantity == 1)
    elsewhere = next(s.id for s in world.stores if s.active and s.id != receipt.location_id)
    sku = receipt.lines[0].item_no
    before = pos_levels(env["pos"], sku, elsewhere)
    variables = _return_input(
        world,
        "ret-receipt",
        orderId=f"pos:{receipt.id}",
        locationId=f"store:{elsewhere}",
        lines=[{"sku": sku, "quantity": 1}],
    )
    payload = register(env, variables)
    assert payload["errors"] == []
    assert payload["return"]["order"]["id"] == f"order:pos:{receipt.id}"
    (booked,) = erp_returns(env["erp"], receipt.id)
    assert (booked["Shortcut_Dimension_1_Code"], booked["Location_Code"]) == ("STORE", elsewhere)
    assert booked["Applies_to_Doc_Type"] == "_blank_"  # a receipt is no NAV document
    assert pos_levels(env["pos"], sku, elsewhere) == (before[0] + 1, before[1])


def test_a_return_by_post_is_booked_without_a_store_and_leaves_store_stock_alone(
    env: dict[str, str], world: World
) -> None:
    order = _unreturned_online_orders(world)[3]
    variables = _return_input(
        world,
        "ret-post",
        orderId=f"erp:{order.id}",
        locationId=None,
        lines=[{"sku": order.lines[0].item_no, "quantity": 1}],
    )
    payload = register(env, variables)
    assert payload["errors"] == []
    (booked,) = erp_returns(env["erp"], invoice_no(order.id))
    assert booked.get("Location_Code") is None


def test_a_closed_store_takes_no_returns(env: dict[str, str], world: World) -> None:
    closed = next(s.id for s in world.stores if not s.active)
    payload = register(env, _return_input(world, "ret-closed", locationId=f"store:{closed}"))
    assert [e["code"] for e in payload["errors"]] == ["STORE_CLOSED"]


# --- profile writes -------------------------------------------------------------------

UPDATE = """mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id name email phone } errors { code message } }
}"""
CONSENT = """mutation($id: ID!, $purpose: ConsentPurpose!, $granted: Boolean!, $until: Date) {
  setConsent(customerId: $id, purpose: $purpose, granted: $granted, validUntil: $until) {
    consent { purpose granted validUntil } customer { consents { purpose granted } }
    errors { code }
  }
}"""


def test_update_customer_writes_name_email_and_phone_to_the_crm(
    env: dict[str, str], world: World
) -> None:
    contact = world.crm_contacts[3]
    changes = {
        "name": "Anna de Vries",
        "email": "Anna.de.Vries@Example.NL",
        "phone": "+31201234567",
    }
    result = graphql(
        env["gateway"], UPDATE, {"input": {"customerId": f"crm:{contact.id}", **changes}}
    )
    payload = result["data"]["updateCustomer"]
    assert payload["errors"] == []
    assert payload["customer"]["name"] == "Anna de Vries"
    assert payload["customer"]["email"] == "anna.de.vries@example.nl"
    properties = crm_contact(env["crm"], contact.id)["properties"]
    assert (properties["firstname"], properties["lastname"]) == ("Anna", "de Vries")
    assert properties["email"] == "anna.de.vries@example.nl"
    assert properties["phone"] == "+31201234567"


def test_set_consent_writes_the_crm_properties(env: dict[str, str], world: World) -> None:
    contact = world.crm_contacts[4]
    variables = {
        "id": f"crm:{contact.id}",
        "purpose": "EMAIL_MARKETING",  # an enum since issue 18
        "granted": True,
        "until": "2031-01-31",
    }
    payload = graphql(env["gateway"], CONSENT, variables)["data"]["setConsent"]
    assert payload["errors"] == []
    assert payload["consent"] == {
        "purpose": "EMAIL_MARKETING",
        "granted": True,
        "validUntil": "2031-01-31",
    }
    assert {"purpose": "EMAIL_MARKETING", "granted": True} in payload["customer"]["consents"]
    properties = crm_contact(env["crm"], contact.id)["properties"]
    assert properties["consent_email_marketing"] == "true"
    assert properties["consent_email_marketing_valid_until"] == "2031-01-31"


def test_an_unknown_consent_purpose_is_refused(env: dict[str, str], world: World) -> None:
    """Purposes are an enum since issue 18: an unknown one is refused with the variables,
    before the mutation runs (it was the mutation's own UNKNOWN_PURPOSE before)."""
    variables = {"id": f"crm:{world.crm_contacts[5].id}", "purpose": "TELEPATHY", "granted": True}
    result = graphql(env["gateway"], CONSENT, variables)
    assert "data" not in result or result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BAD_USER_INPUT"]
    assert "ConsentPurpose" in result["errors"][0]["message"]


def test_a_customer_the_crm_does_not_know_cannot_be_updated(
    env: dict[str, str], world: World
) -> None:
    crm_cards = {c.loyalty_card for c in world.crm_contacts}
    member = next(p for p in world.pos_customers if p.card_number not in crm_cards)
    variables = {"input": {"customerId": f"pos:{member.id}", "phone": "+31600000000"}}
    payload = graphql(env["gateway"], UPDATE, variables)["data"]["updateCustomer"]
    assert [e["code"] for e in payload["errors"]] == ["NOT_IN_CRM"]


# --- returns follow the goods and the money (issue 17) ---------------------------------

RETURN = """mutation($input: RegisterReturnInput!) { registerReturn(input: $input) {
  return { id status refund { amount } refundPayment {
    kind amount { amount } status method refundOf orderId } }
  errors { code reason message } } }"""
PLACE = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id total { amount }
    lines { sku quantity unitPrice { amount } compareAtUnitPrice { amount } } }
  errors { code message } } }"""


def _placed(env: dict[str, str], world: World, key: str, quantity: int = 1) -> dict[str, Any]:
    """A click & collect order placed through the gateway on WEB, of a product on a
    running web promotion where one is stocked, at the store it is stocked in."""
    variables = copy.deepcopy(click_and_collect(world))
    today = datetime.now(UTC).date()
    promoted = {
        p.item_no
        for p in world.promotions
        if p.channel == "WEB" and p.starting_date <= today <= p.ending_date
    }
    open_stores = {s.id for s in world.stores if s.active}
    sku, store = next(
        (s.item_no, s.location_id)
        for s in sorted(world.store_stock, key=lambda s: s.item_no not in promoted)
        if s.location_id in open_stores
        and s.on_hand - s.reserved >= quantity + 2
        and s.item_no in {i.no for i in world.items if {"WEB", "STORE"} <= set(i.channels)}
    )
    variables["input"].update(
        idempotencyKey=key,
        lines=[{"sku": sku, "quantity": quantity}],
        pickupLocationId=f"store:{store}",
    )
    payload = graphql(env["gateway"], PLACE, variables)["data"]["placeOrder"]
    assert payload["errors"] == [], payload
    order: dict[str, Any] = payload["order"]
    order["store"] = store
    return order


def _return(env: dict[str, str], order: dict[str, Any], key: str, n: int = 1) -> dict[str, Any]:
    line = order["lines"][0]
    variables = {
        "input": {
            "orderId": order["id"],
            "idempotencyKey": key,
            "locationId": f"store:{order['store']}",
            "lines": [{"sku": line["sku"], "quantity": n}],
            "reason": "NOT WANTED",
        }
    }
    result = graphql(env["gateway"], RETURN, variables)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["registerReturn"]
    return payload


def _refused(payload: dict[str, Any]) -> list[tuple[str, str]]:
    assert payload["return"] is None
    return [(e["code"], e["reason"]) for e in payload["errors"]]


def test_an_order_not_yet_collected_cannot_be_returned(env: dict[str, str], world: World) -> None:
    """Issue 17: an order placed, paid and never shipped or collected was taken back
    and refunded. Nothing of it was delivered: NOT_FULFILLED."""
    order = _placed(env, world, "ret-uncollected")
    no = order["id"].rsplit(":", 1)[1]
    erp_post(env["erp"], "payment", order=no, amount=order["total"]["amount"], method="IDEAL")
    assert _refused(_return(env, order, "ret-uncollected")) == [("NOT_RETURNABLE", "NOT_FULFILLED")]
    assert erp_returns(env["erp"], no) == []


def test_an_order_collected_but_never_paid_is_not_refunded(
    env: dict[str, str], world: World
) -> None:
    order = _placed(env, world, "ret-unpaid")
    no = order["id"].rsplit(":", 1)[1]
    erp_post(env["erp"], "shipment", order=no)  # collected at the store
    assert _refused(_return(env, order, "ret-unpaid")) == [("NOT_RETURNABLE", "NOT_PAID")]
    assert erp_returns(env["erp"], no) == []


def test_a_collected_order_is_refunded_against_its_payment_for_what_was_paid(
    env: dict[str, str], world: World
) -> None:
    """Placed on WEB at its promotion's price, paid by iDEAL, collected (NAV posts the
    shipment from the store): the return is refunded the price paid (the promotion
    taken off, not the regular price), against that payment, by iDEAL. The ERP pays it
    out when it posts the return order, so it is pending until then."""
    order = _placed(env, world, "ret-collected")
    no, paid = order["id"].rsplit(":", 1)[1], order["lines"][0]["unitPrice"]["amount"]
    regular = order["lines"][0]["compareAtUnitPrice"]["amount"]
    assert Decimal(paid) < Decimal(regular)  # bought at its promotion's price
    entry = erp_post(env["erp"], "payment", order=no, amount=order["total"]["amount"])["entry"]
    erp_post(env["erp"], "shipment", order=no)
    payload = _return(env, order, "ret-collected")
    assert payload["errors"] == []
    back = payload["return"]
    assert Decimal(back["refund"]["amount"]) == Decimal(paid)
    assert back["refundPayment"] == {
        "kind": "REFUND",
        "amount": {"amount": str(-Decimal(paid))},
        "status": "PENDING",
        "method": "IDEAL",
        "refundOf": f"erp:{entry}",
        "orderId": order["id"],
    }
    (booked,) = erp_returns(env["erp"], no)
    assert booked["No"] == back["id"].rsplit(":", 1)[1]


def test_a_store_receipt_is_refunded_at_the_till_the_way_it_was_paid(
    env: dict[str, str], world: World
) -> None:
    """A sale at the till, paid in cash, brought back: Square's RefundPayment pays the
    cash back against the sale's payment, and the receipt's payments show it."""
    store = next(s for s in world.store_stock if s.on_hand - s.reserved > 2)
    receipt = pos_sale(env["pos"], "till-sale-1", store.item_no, store.location_id, cents=1999)
    order = {
        "id": f"pos:{receipt['id']}",
        "store": store.location_id,
        "lines": [{"sku": store.item_no}],
    }
    payload = _return(env, order, "ret-till")
    assert payload["errors"] == []
    refund = payload["return"]["refundPayment"]
    assert (refund["status"], refund["method"], refund["amount"]) == (
        "COMPLETED",
        "CASH",
        {"amount": "-19.99"},
    )
    shown = graphql(
        env["gateway"],
        "query($id: ID!) { order(id: $id) { payments { id kind amount { amount } refundOf } } }",
        {"id": order["id"]},
    )["data"]["order"]["payments"]
    assert [p["kind"] for p in shown] == ["PAYMENT", "REFUND"]
    assert refund["refundOf"] == shown[0]["id"]  # against the sale's own payment
    assert (shown[1]["refundOf"], shown[1]["amount"]) == (shown[0]["id"], {"amount": "-19.99"})
    again = _return(env, order, "ret-till-again")  # the one piece came back already
    assert _refused(again) == [("NOT_RETURNABLE", "ALREADY_RETURNED")]


def test_eight_concurrent_returns_of_one_piece_each_all_stand_and_a_ninth_is_refused(
    env: dict[str, str], world: World
) -> None:
    """Issue 17: eight returns at once of one order used to refuse each other ("another
    return came first"). Returns of one order are serialised by a lease in the saga log,
    so each counts the ones before it: all eight stand, and the ninth piece, never
    bought, cannot come back."""
    order = _placed(env, world, "ret-eight", quantity=8)
    no = order["id"].rsplit(":", 1)[1]
    erp_post(env["erp"], "payment", order=no, amount=order["total"]["amount"])
    erp_post(env["erp"], "shipment", order=no)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: _return(env, order, f"ret-eight-{n}"), range(8)))
    assert [a["errors"] for a in answers] == [[]] * 8
    assert len({a["return"]["id"] for a in answers}) == 8
    assert len(erp_returns(env["erp"], no)) == 8
    assert _refused(_return(env, order, "ret-eight-9")) == [("NOT_RETURNABLE", "ALREADY_RETURNED")]
